"""closing accounts and purging personal data

Revision ID: f15c00000006
Revises: e15b00000005
Create Date: 2026-12-01 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f15c00000006'
down_revision = 'e15b00000005'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("anonymized_at", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("closed_at", sa.DateTime(), nullable=True))
    op.add_column("contests", sa.Column("personal_data_days", sa.Integer(), nullable=True))
    op.add_column("contests", sa.Column("purged_at", sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column("contests", "purged_at")
    op.drop_column("contests", "personal_data_days")
    op.drop_column("users", "closed_at")
    op.drop_column("users", "anonymized_at")
