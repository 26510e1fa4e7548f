"""units and townships of citizens

Revision ID: e15b00000005
Revises: d15a00000004
Create Date: 2026-12-01 11:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'e15b00000005'
down_revision = 'd15a00000004'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
