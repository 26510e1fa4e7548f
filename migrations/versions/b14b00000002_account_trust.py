"""tokens remember their role and second factor

Revision ID: b14b00000002
Revises: a14a00000001
Create Date: 2026-12-01 10:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'b14b00000002'
down_revision = 'a14a00000001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
