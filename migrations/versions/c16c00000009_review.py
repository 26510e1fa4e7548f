"""issue 16, review (empty unless that part needs a schema change)

Revision ID: c16c00000009
Revises: b16b00000008
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'c16c00000009'
down_revision = 'b16b00000008'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
