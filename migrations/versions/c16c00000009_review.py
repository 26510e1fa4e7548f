"""issue 16, review: the client address of a registration and of an attempt's start (review flags)

Revision ID: c16c00000009
Revises: b16b00000008
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'c16c00000009'
down_revision = 'b16b00000008'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("registered_from", sa.String(length=45), nullable=True))
    op.add_column("attempts", sa.Column("started_from", sa.String(length=45), nullable=True))


def downgrade():
    op.drop_column("attempts", "started_from")
    op.drop_column("users", "registered_from")
