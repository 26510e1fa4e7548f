"""issue 17, groups: the contest file's groups, and the group an attempt was taken in

Revision ID: b17c00000014
Revises: a17b00000013
Create Date: 2026-12-01 16:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b17c00000014'
down_revision = 'a17b00000013'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("contests", sa.Column("groups", sa.JSON(), nullable=True))
    op.add_column("attempts", sa.Column("group", sa.String(length=20), nullable=True))


def downgrade():
    op.drop_column("attempts", "group")
    op.drop_column("contests", "groups")
