"""issue 16, certificates: certificates.kind holds "participation" (13 characters)

Revision ID: e16e00000011
Revises: d16d00000010
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e16e00000011'
down_revision = 'd16d00000010'
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("certificates", "kind", type_=sa.String(20), existing_type=sa.String(10), existing_nullable=False)


def downgrade():
    op.alter_column("certificates", "kind", type_=sa.String(10), existing_type=sa.String(20), existing_nullable=False)
