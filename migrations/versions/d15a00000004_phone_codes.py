"""phone codes for registration, login and password reset

Revision ID: d15a00000004
Revises: c14c00000003
Create Date: 2026-12-01 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'd15a00000004'
down_revision = 'c14c00000003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "phone_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phone", sa.String(11), nullable=False),
        sa.Column("purpose", sa.String(10), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("wrong_tries", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("spent_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_phone_codes_phone_created", "phone_codes", ["phone", "created_at"])
    # A citizen registered by a phone code may have no password.
    op.alter_column("users", "password_hash", existing_type=sa.String(255), nullable=True)


def downgrade():
    op.execute("UPDATE users SET password_hash = '!' WHERE password_hash IS NULL")
    op.alter_column("users", "password_hash", existing_type=sa.String(255), nullable=False)
    op.drop_index("ix_phone_codes_phone_created", table_name="phone_codes")
    op.drop_table("phone_codes")
