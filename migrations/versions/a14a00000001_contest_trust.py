"""contests pinned to a bank version, a practice bank, one start at a time

Revision ID: a14a00000001
Revises: 5b1e7c0f2a9d
Create Date: 2026-12-01 10:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a14a00000001'
down_revision = '5b1e7c0f2a9d'
branch_labels = None
depends_on = None


def upgrade():
    # A contest draws its papers from the bank version it was imported with (issue 14, item 5).
    op.add_column("contests", sa.Column("bank_id", sa.Integer(), sa.ForeignKey("banks.id", name="contests_bank_id_fkey"),
                                        nullable=True))
    # Practice comes from this bank (never the contest's own), else only after the contest (item 1).
    op.add_column("contests", sa.Column("practice_bank_slug", sa.String(60), nullable=True))
    # Existing contests keep what they draw from today: the newest version of their bank.
    op.execute(
        "UPDATE contests c SET bank_id = (SELECT b.id FROM banks b WHERE b.slug = c.bank_slug"
        " ORDER BY b.version DESC LIMIT 1)"
    )


def downgrade():
    op.drop_column("contests", "practice_bank_slug")
    op.drop_column("contests", "bank_id")
