"""issue 17, several contests at once (empty unless that part needs a schema change)

Revision ID: c17d00000015
Revises: b17c00000014
Create Date: 2026-12-01 16:00:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'c17d00000015'
down_revision = 'b17c00000014'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("contests", sa.Column("featured", sa.Boolean(), server_default=sa.text("false"), nullable=False))


def downgrade():
    op.drop_column("contests", "featured")
