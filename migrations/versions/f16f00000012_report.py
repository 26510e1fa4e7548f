"""issue 16, report (empty unless that part needs a schema change)

Revision ID: f16f00000012
Revises: e16e00000011
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'f16f00000012'
down_revision = 'e16e00000011'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
