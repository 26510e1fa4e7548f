"""closing accounts and purging personal data

Revision ID: f15c00000006
Revises: e15b00000005
Create Date: 2026-12-01 11:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'f15c00000006'
down_revision = 'e15b00000005'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
