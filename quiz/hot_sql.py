"""Hand-written SQL for the hottest requests: the bearer-token look-up, saving an answer
and handing in.

Every citizen saves about twenty answers and submits once per attempt, at the peak
thousands a minute. Built with the ORM, a save cost ~6 ms of CPU and a submit ~25 ms
(statement construction, compilation and object loading: docs/benchmarks.md); these
fixed statements run on the session's connection with typed columns and parameters,
so SQLite and PostgreSQL read and write the same values the ORM would.

Only the lock clauses differ between the two: SQLite serialises writers by itself.
"""
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, bindparam, text


def _pair(sql: str, lock: str = "", columns: dict | None = None, params: tuple = ()):
    """{dialect name: statement}: PostgreSQL with the lock clause, SQLite without."""
    made = {}
    for dialect, clause in (("postgresql", lock), ("sqlite", "")):
        statement = text(sql.replace("{lock}", clause))
        if params:
            statement = statement.bindparams(*params)
        if columns:
            statement = statement.columns(**columns)
        made[dialect] = statement
    return made


def run(session, statements: dict, values):
    """Execute the dialect's statement on the session's connection (inside its transaction)."""
    connection = session.connection()
    return connection.execute(statements[connection.dialect.name], values)


# ---- who is asking (every API request) ----------------------------------------

TOKEN_IDENTITY = _pair(
    "SELECT u.id, u.name, u.district, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = :token_hash AND t.expires_at > :now",
    params=(bindparam("now", type_=DateTime),),
)

# ---- saving answers -------------------------------------------------------------

# The attempt row, locked so that a concurrent submit grades before this save (which is
# then refused) or after it, joined with the asked-for items of its paper.
SAVE_LOOKUP = _pair(
    "SELECT a.user_id, a.status, a.deadline, i.id AS item_id, i.option_order, i.type, i.qid "
    "FROM attempts a LEFT JOIN ("
    " SELECT aq.attempt_id, aq.id, aq.option_order, q.type, q.qid FROM attempt_questions aq"
    " JOIN questions q ON q.id = aq.question_id WHERE aq.attempt_id = :attempt_id AND q.qid IN :qids"
    ") i ON i.attempt_id = a.id WHERE a.id = :attempt_id{lock}",
    lock=" FOR UPDATE OF a",
    columns={"user_id": Integer, "status": String, "deadline": DateTime, "item_id": Integer,
             "option_order": JSON, "type": String, "qid": String},
    params=(bindparam("qids", expanding=True),),
)

SAVE_CHOICES = _pair(
    "UPDATE attempt_questions SET choices = :choices, saved_at = :now WHERE id = :item_id"
    " AND EXISTS (SELECT 1 FROM attempts WHERE id = :attempt_id AND status = 'active')",
    params=(bindparam("choices", type_=JSON), bindparam("now", type_=DateTime)),
)

# ---- handing in -------------------------------------------------------------------

_EXPIRED = "(:auto OR (deadline IS NOT NULL AND deadline < :cutoff))"

# Claim the attempt: only one of two concurrent submits changes the row, and the row lock
# it takes makes a concurrent save land before the grading below or be refused.
CLAIM = _pair(
    f"UPDATE attempts SET status = CASE WHEN {_EXPIRED} THEN 'expired' ELSE 'submitted' END,"
    f" auto_submitted = CASE WHEN {_EXPIRED} THEN TRUE ELSE FALSE END,"
    " finished_at = CASE WHEN deadline IS NOT NULL AND deadline < :now THEN deadline ELSE :now END"
    " WHERE id = :attempt_id AND user_id = :user_id AND status = 'active'"
    " RETURNING id, user_id, contest_id, practice, status, started_at, deadline, finished_at, auto_submitted,"
    " question_count",
    columns={"id": Integer, "user_id": Integer, "contest_id": Integer, "practice": Boolean, "status": String,
             "started_at": DateTime, "deadline": DateTime, "finished_at": DateTime, "auto_submitted": Boolean,
             "question_count": Integer},
    params=(bindparam("auto", type_=Boolean), bindparam("now", type_=DateTime), bindparam("cutoff", type_=DateTime)),
)

FINISHED_HEAD = _pair(
    "SELECT id, user_id, contest_id, practice, status, started_at, deadline, finished_at, auto_submitted,"
    " question_count, score, max_score, correct_count, time_used_ms FROM attempts WHERE id = :attempt_id",
    columns={"id": Integer, "user_id": Integer, "contest_id": Integer, "practice": Boolean, "status": String,
             "started_at": DateTime, "deadline": DateTime, "finished_at": DateTime, "auto_submitted": Boolean,
             "question_count": Integer, "score": Integer, "max_score": Integer, "correct_count": Integer,
             "time_used_ms": Integer},
)

PAPER = _pair(
    "SELECT aq.id, aq.option_order, aq.choices, aq.correct, aq.points, q.qid, q.type, q.stem, q.options, q.answer,"
    " q.explanation FROM attempt_questions aq JOIN questions q ON q.id = aq.question_id"
    " WHERE aq.attempt_id = :attempt_id ORDER BY aq.position",
    columns={"id": Integer, "option_order": JSON, "choices": JSON, "correct": Boolean, "points": Integer,
             "qid": String, "type": String, "stem": String, "options": JSON, "answer": JSON, "explanation": String},
)

MARK_CORRECT = _pair(
    "UPDATE attempt_questions SET correct = CASE WHEN id IN :correct_ids THEN TRUE ELSE FALSE END"
    " WHERE attempt_id = :attempt_id",
    params=(bindparam("correct_ids", expanding=True),),
)

RECORD_SCORE = _pair(
    "UPDATE attempts SET score = :score, max_score = :max_score, correct_count = :correct_count,"
    " time_used_ms = :time_used_ms WHERE id = :attempt_id",
)

MARK_BOARD_PENDING = _pair("UPDATE attempts SET board_pending = TRUE WHERE id = :attempt_id")
