"""Hand-written SQL for the hottest requests: the bearer-token look-up, saving an answer
and handing in.

Every citizen saves about twenty answers and submits once per attempt, at the peak
thousands a minute. Built with the ORM, a save cost ~8 ms of CPU and a submit ~26 ms
(statement construction, compilation and object loading: docs/benchmarks.md). These
fixed statements skip all of that:

* on PostgreSQL they run straight on the session's psycopg connection, inside the
  session's transaction (psycopg converts JSON, timestamps and booleans itself), and
  `commit` commits that connection; errors come out as SQLAlchemy's exception classes,
  and a dropped connection is invalidated, as the ORM path would do;
* elsewhere (SQLite) they run as SQLAlchemy `text()` with typed columns and parameters,
  so both store and read the same values the ORM would.

Write `:name` parameters and `IN :name` for lists; `{lock}` marks where PostgreSQL's row
lock goes (SQLite serialises writers by itself).
"""
import re

import sqlalchemy.exc
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, bindparam, text

try:  # PostgreSQL's driver; absent where only SQLite is used
    import psycopg
    from psycopg.rows import namedtuple_row
    from psycopg.types.json import Json
except ImportError:  # pragma: no cover
    psycopg = None


class Statement:
    def __init__(self, sql: str, lock: str = "", columns: dict | None = None, types: dict | None = None,
                 lists: tuple = ()):
        types = types or {}
        portable = text(sql.replace("{lock}", "")).bindparams(
            *(bindparam(name, type_=type_) for name, type_ in types.items()),
            *(bindparam(name, expanding=True) for name in lists),
        )
        self.portable = portable.columns(**columns) if columns else portable
        pg = sql.replace("{lock}", lock)
        for name in lists:
            pg = pg.replace(f" IN :{name}", f" = ANY(:{name})")
        self.pg_sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", pg)
        self.json_params = tuple(name for name, type_ in types.items() if type_ is JSON)

    def _pg_values(self, values: dict) -> dict:
        if not self.json_params:
            return values
        return {**values, **{name: Json(values[name]) for name in self.json_params}}


def _psycopg(session):
    """(SQLAlchemy connection, psycopg connection) of the session's transaction, or (conn, None)."""
    connection = session.connection()
    if connection.dialect.driver != "psycopg":
        return connection, None
    return connection, connection.connection.dbapi_connection


def _reraise(connection, dbapi, exc, sql, values):
    """A psycopg error as SQLAlchemy would raise it (error handlers and retries look for those)."""
    disconnected = connection.dialect.is_disconnect(exc, dbapi, None)
    if disconnected:
        connection.invalidate(exc)
    raise sqlalchemy.exc.DBAPIError.instance(sql, values, exc, psycopg.Error,
                                            connection_invalidated=disconnected) from exc


def run(session, statement: Statement, values) -> list:
    """Execute inside the session's transaction; the rows (attribute access, _asdict()) or [].

    `values` is a dict, or a list of dicts to run the statement once for each."""
    connection, dbapi = _psycopg(session)
    if dbapi is None:
        result = connection.execute(statement.portable, values)
        return result.all() if result.returns_rows else []
    try:
        with dbapi.cursor(row_factory=namedtuple_row) as cursor:
            if isinstance(values, list) and len(values) != 1:
                cursor.executemany(statement.pg_sql, [statement._pg_values(v) for v in values])
                return []
            if isinstance(values, list):
                values = values[0]
            cursor.execute(statement.pg_sql, statement._pg_values(values))
            return cursor.fetchall() if cursor.description is not None else []
    except psycopg.Error as exc:
        _reraise(connection, dbapi, exc, statement.pg_sql, values)


def first(session, statement: Statement, values: dict):
    rows = run(session, statement, values)
    return rows[0] if rows else None


def commit(session) -> None:
    """Commit the session's transaction; on PostgreSQL straight on the psycopg connection
    (the session's own commit also returns the connection to the pool, re-checked with a
    ping at the next use: ~0.3 ms of CPU that a request pays once at its end instead)."""
    connection, dbapi = _psycopg(session)
    if dbapi is None:
        session.commit()
        return
    try:
        dbapi.commit()
    except psycopg.Error as exc:
        _reraise(connection, dbapi, exc, "COMMIT", {})
    session.expire_all()  # as the session's commit would: ORM objects read before reload


# ---- who is asking (every API request) ----------------------------------------

TOKEN_IDENTITY = Statement(
    "SELECT u.id, u.name, u.district, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = :token_hash AND t.expires_at > :now",
    types={"now": DateTime},
)

# Attempts started per Asia/Shanghai day (practice excluded): /api/v1/me and every start.
ATTEMPTS_BY_DAY = Statement(
    "SELECT day, COUNT(*) AS n FROM attempts WHERE user_id = :user_id AND contest_id = :contest_id"
    " AND practice = FALSE GROUP BY day",
    columns={"day": String, "n": Integer},
)

# ---- saving answers -------------------------------------------------------------

# The attempt row, locked so that a concurrent submit grades before this save (which is
# then refused) or after it, joined with the asked-for items of its paper.
SAVE_LOOKUP = Statement(
    "SELECT a.user_id, a.status, a.deadline, i.id AS item_id, i.option_order, i.type, i.qid "
    "FROM attempts a LEFT JOIN ("
    " SELECT aq.attempt_id, aq.id, aq.option_order, q.type, q.qid FROM attempt_questions aq"
    " JOIN questions q ON q.id = aq.question_id WHERE aq.attempt_id = :attempt_id AND q.qid IN :qids"
    ") i ON i.attempt_id = a.id WHERE a.id = :attempt_id{lock}",
    lock=" FOR UPDATE OF a",
    columns={"user_id": Integer, "status": String, "deadline": DateTime, "item_id": Integer,
             "option_order": JSON, "type": String, "qid": String},
    lists=("qids",),
)

SAVE_CHOICES = Statement(
    "UPDATE attempt_questions SET choices = :choices, saved_at = :now WHERE id = :item_id"
    " AND EXISTS (SELECT 1 FROM attempts WHERE id = :attempt_id AND status = 'active')",
    types={"choices": JSON, "now": DateTime},
)

# ---- handing in -------------------------------------------------------------------

_EXPIRED = "(:auto OR (deadline IS NOT NULL AND deadline < :cutoff))"

# Claim the attempt: only one of two concurrent submits changes the row, and the row lock
# it takes makes a concurrent save land before the grading below or be refused.
CLAIM = Statement(
    f"UPDATE attempts SET status = CASE WHEN {_EXPIRED} THEN 'expired' ELSE 'submitted' END,"
    f" auto_submitted = CASE WHEN {_EXPIRED} THEN TRUE ELSE FALSE END,"
    " finished_at = CASE WHEN deadline IS NOT NULL AND deadline < :now THEN deadline ELSE :now END"
    " WHERE id = :attempt_id AND user_id = :user_id AND status = 'active'"
    " RETURNING id, user_id, contest_id, practice, status, started_at, deadline, finished_at, auto_submitted,"
    " question_count",
    columns={"id": Integer, "user_id": Integer, "contest_id": Integer, "practice": Boolean, "status": String,
             "started_at": DateTime, "deadline": DateTime, "finished_at": DateTime, "auto_submitted": Boolean,
             "question_count": Integer},
    types={"auto": Boolean, "now": DateTime, "cutoff": DateTime},
)

FINISHED_HEAD = Statement(
    "SELECT id, user_id, contest_id, practice, status, started_at, deadline, finished_at, auto_submitted,"
    " question_count, score, max_score, correct_count, time_used_ms FROM attempts WHERE id = :attempt_id",
    columns={"id": Integer, "user_id": Integer, "contest_id": Integer, "practice": Boolean, "status": String,
             "started_at": DateTime, "deadline": DateTime, "finished_at": DateTime, "auto_submitted": Boolean,
             "question_count": Integer, "score": Integer, "max_score": Integer, "correct_count": Integer,
             "time_used_ms": Integer},
)

PAPER = Statement(
    "SELECT aq.id, aq.option_order, aq.choices, aq.correct, aq.points, q.qid, q.type, q.stem, q.options, q.answer,"
    " q.explanation FROM attempt_questions aq JOIN questions q ON q.id = aq.question_id"
    " WHERE aq.attempt_id = :attempt_id ORDER BY aq.position",
    columns={"id": Integer, "option_order": JSON, "choices": JSON, "correct": Boolean, "points": Integer,
             "qid": String, "type": String, "stem": String, "options": JSON, "answer": JSON, "explanation": String},
)

MARK_CORRECT = Statement(
    "UPDATE attempt_questions SET correct = CASE WHEN id IN :correct_ids THEN TRUE ELSE FALSE END"
    " WHERE attempt_id = :attempt_id",
    lists=("correct_ids",),
)

RECORD_SCORE = Statement(
    "UPDATE attempts SET score = :score, max_score = :max_score, correct_count = :correct_count,"
    " time_used_ms = :time_used_ms WHERE id = :attempt_id",
)

MARK_BOARD_PENDING = Statement("UPDATE attempts SET board_pending = TRUE WHERE id = :attempt_id")
