"""units and townships of citizens

Revision ID: e15b00000005
Revises: d15a00000004
Create Date: 2026-12-01 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e15b00000005'
down_revision = 'd15a00000004'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("unit_code", sa.String(60), nullable=True))
    op.add_column("users", sa.Column("township", sa.String(60), nullable=True))
    op.add_column("contests", sa.Column("units", sa.JSON(), nullable=True))
    op.add_column("contests", sa.Column("townships", sa.JSON(), nullable=True))
    op.add_column("contests", sa.Column("district_rank_by", sa.String(20), nullable=False, server_default="per_10k"))


def downgrade():
    op.drop_column("contests", "district_rank_by")
    op.drop_column("contests", "townships")
    op.drop_column("contests", "units")
    op.drop_column("users", "township")
    op.drop_column("users", "unit_code")
