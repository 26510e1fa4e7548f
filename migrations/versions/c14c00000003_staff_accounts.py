"""staff and test accounts kept off public standings

Revision ID: c14c00000003
Revises: b14b00000002
Create Date: 2026-12-01 10:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = 'c14c00000003'
down_revision = 'b14b00000002'
branch_labels = None
depends_on = None


def upgrade():
    # Staff and test accounts (organizers are kept off by role) take attempts like anyone,
    # but never count on public boards, district aggregates or exports of standings.
    op.add_column("users", sa.Column("staff", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    op.drop_column("users", "staff")
