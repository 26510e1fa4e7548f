"""issue 17, a clock per question: contests.question_time_s; an attempt's copy of it and its current question

Revision ID: a17b00000013
Revises: f16f00000012
Create Date: 2026-12-01 13:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a17b00000013'
down_revision = 'f16f00000012'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('contests', sa.Column('question_time_s', sa.Integer(), nullable=True))
    op.add_column('attempts', sa.Column('question_time_s', sa.Integer(), nullable=True))
    op.add_column('attempts', sa.Column('question_position', sa.Integer(), nullable=True))
    op.add_column('attempts', sa.Column('question_served_at', sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column('attempts', 'question_served_at')
    op.drop_column('attempts', 'question_position')
    op.drop_column('attempts', 'question_time_s')
    op.drop_column('contests', 'question_time_s')
