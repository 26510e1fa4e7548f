"""issue 16, awards (empty unless that part needs a schema change)

Revision ID: d16d00000010
Revises: c16c00000009
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'd16d00000010'
down_revision = 'c16c00000009'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
