"""contests pinned to a bank version, a practice bank, one start at a time

Revision ID: a14a00000001
Revises: 5b1e7c0f2a9d
Create Date: 2026-12-01 10:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a14a00000001'
down_revision = '5b1e7c0f2a9d'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
