"""issue 20, the morning peak: a random draw order of each bank and its indexes

Papers are drawn from windows of `questions.draw_key` (quiz/contest/paper.py): one index
for the rest of the paper and one per paper-row filter column, unretired questions only.

Revision ID: f20a00000018
Revises: e19b00000017
Create Date: 2026-12-01 16:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f20a00000018'
down_revision = 'e19b00000017'
branch_labels = None
depends_on = None

DRAW_INDEXES = {
    "questions_draw": ["bank_id", "draw_key"],
    "questions_draw_category": ["bank_id", "category", "draw_key"],
    "questions_draw_difficulty": ["bank_id", "difficulty", "draw_key"],
    "questions_draw_type": ["bank_id", "type", "draw_key"],
}


def upgrade():
    op.add_column("questions", sa.Column("draw_key", sa.Float(), server_default=sa.text("random()"), nullable=False))
    for name, columns in DRAW_INDEXES.items():
        op.create_index(name, "questions", columns, postgresql_where=sa.text("NOT retired"))


def downgrade():
    for name in DRAW_INDEXES:
        op.drop_index(name, table_name="questions")
    op.drop_column("questions", "draw_key")
