"""issue 19, one set of figures and finalizing without cron (empty unless that part needs a schema change)

Revision ID: d19a00000016
Revises: c17d00000015
Create Date: 2026-12-01 16:00:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'd19a00000016'
down_revision = 'c17d00000015'
branch_labels = None
depends_on = None


def upgrade():
    # The background sweep (quiz/finalizer.py) asks every few seconds for running attempts past
    # their deadline: an index of the running attempts only, small whatever the table's size.
    op.create_index("attempts_active_by_deadline", "attempts", ["deadline"],
                    postgresql_where=sa.text("status = 'active'"))


def downgrade():
    op.drop_index("attempts_active_by_deadline", table_name="attempts")
