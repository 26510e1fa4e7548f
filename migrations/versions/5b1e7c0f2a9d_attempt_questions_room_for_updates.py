"""attempt_questions: room on each page for updates, one index fewer

Every row of attempt_questions is written once when an attempt starts, then updated by
each save of its answer and once more by the grading. With full pages (the default
fillfactor 100) only ~46 % of those updates were HOT in bench/load.py's submit run; the
others each wrote a new entry into every index. Pages filled to 70 % leave the new row
versions room beside the old ones. ix_attempt_questions_attempt_id duplicated the
leading column of the (attempt_id, position) unique index, which serves the same
look-ups.

Revision ID: 5b1e7c0f2a9d
Revises: 126c5dbf0b9d
Create Date: 2026-11-29 11:00:00

"""
from alembic import op


revision = '5b1e7c0f2a9d'
down_revision = '126c5dbf0b9d'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_attempt_questions_attempt_id', table_name='attempt_questions')
    # Applies to pages written from now on (VACUUM FULL would rewrite the old ones).
    op.execute('ALTER TABLE attempt_questions SET (fillfactor = 70)')


def downgrade():
    op.execute('ALTER TABLE attempt_questions RESET (fillfactor)')
    op.create_index('ix_attempt_questions_attempt_id', 'attempt_questions', ['attempt_id'], unique=False)
