"""phone codes for registration, login and password reset

Revision ID: d15a00000004
Revises: c14c00000003
Create Date: 2026-12-01 11:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'd15a00000004'
down_revision = 'c14c00000003'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
