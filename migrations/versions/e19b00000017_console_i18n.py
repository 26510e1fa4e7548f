"""issue 19, Chinese throughout (empty unless that part needs a schema change)

Revision ID: e19b00000017
Revises: d19a00000016
Create Date: 2026-12-01 16:00:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'e19b00000017'
down_revision = 'd19a00000016'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
