"""staff and test accounts kept off public standings

Revision ID: c14c00000003
Revises: b14b00000002
Create Date: 2026-12-01 10:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'c14c00000003'
down_revision = 'b14b00000002'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
