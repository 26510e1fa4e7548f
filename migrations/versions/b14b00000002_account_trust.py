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
    # Tokens issued before this revision become citizen tokens without the second factor:
    # an organizer asks for a new one (a citizen's token keeps working).
    op.add_column('api_tokens', sa.Column('role', sa.String(length=10), nullable=False, server_default='citizen'))
    op.add_column('api_tokens', sa.Column('second_factor', sa.Boolean(), nullable=False,
                                          server_default=sa.text('false')))
    op.create_index('ix_api_tokens_expires_at', 'api_tokens', ['expires_at'])


def downgrade():
    op.drop_index('ix_api_tokens_expires_at', table_name='api_tokens')
    op.drop_column('api_tokens', 'second_factor')
    op.drop_column('api_tokens', 'role')
