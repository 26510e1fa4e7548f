"""issue 16, freeze (empty unless that part needs a schema change)

Revision ID: b16b00000008
Revises: a16a00000007
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'b16b00000008'
down_revision = 'a16a00000007'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
