"""issue 16, certificates (empty unless that part needs a schema change)

Revision ID: e16e00000011
Revises: d16d00000010
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'e16e00000011'
down_revision = 'd16d00000010'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
