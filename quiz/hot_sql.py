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
import logging
import re
import threading
import weakref

import orjson
import sqlalchemy.exc
from flask import current_app
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, bindparam, create_engine, event, text

from quiz.batching import Batcher

log = logging.getLogger(__name__)

try:  # PostgreSQL's driver; absent where only SQLite is used
    import psycopg
    from psycopg.rows import namedtuple_row
    from psycopg.types.json import Json, set_json_loads

    # A submit reads ~80 small JSON values (options, orders, choices, answers): orjson parses
    # them in a fifth of the stdlib's time.
    set_json_loads(orjson.loads)
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

    def prepare_as(self, name: str) -> "Statement":
        """Name this statement for the direct pool's server-side PREPARE (see direct_script)."""
        params = []

        def positional(match):
            if match.group(1) not in params:
                params.append(match.group(1))
            return f"${params.index(match.group(1)) + 1}"

        self.prepare_sql = f"PREPARE {name} AS " + re.sub(r"%\((\w+)\)s", positional, self.pg_sql)
        self.execute_sql = f"EXECUTE {name}(" + ", ".join("%s" for _ in params) + ")"
        self.prepared_params = tuple(params)
        return self

    def execute_args(self, values: dict) -> list:
        values = self._pg_values(values)
        return [values[name] for name in self.prepared_params]

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
    raise _as_sqlalchemy(exc, sql, values, disconnected) from exc


def _as_sqlalchemy(exc, sql: str, values, disconnected: bool) -> sqlalchemy.exc.DBAPIError:
    return sqlalchemy.exc.DBAPIError.instance(sql, values, exc, psycopg.Error, connection_invalidated=disconnected)


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


# ---- standalone statements on a pool of their own (PostgreSQL) -------------------
#
# A save, a submit and a token look-up are whole transactions by themselves. Through the
# session each paid a pool checkout with its ping, BEGIN and COMMIT besides its own
# statements: six round trips for one save. The direct pool holds autocommit connections
# without the ping, so a save is one statement and one round trip, and a submit one
# message of two PREPAREd statements (direct_script). Saves and submits that arrive
# while another batch of their process is in flight go together in the next one
# (save_by_token, submit_by_token): one statement or message, one commit. The direct
# connections hold PREPAREd statements: a connection pooler between the app and
# PostgreSQL must pool by session, not by transaction. A connection found dead (the
# database restarted) empties the pool and the call runs once more on a fresh one: every
# caller here is safe to repeat (a save writes the same value again; a repeated submit
# finds its attempt finished).

_DIRECT_KEY = "quiz.direct_engine"
_direct_lock = threading.Lock()
# Per worker: Config.DIRECT_POOL_SIZE (20) and no overflow. A gevent worker holds many
# requests at once; with 6 + 2 connections a submit's p99 at 64 connections was 725 ms,
# with 16 + 4 it was 310-430 ms (docs/benchmarks.md). Overflow connections are closed
# when they come back to a full pool, so under load they were opened again and again
# (connect and PREPARE: 4 % of a worker's time during submits); a request now waits for
# a pooled one instead.
DIRECT_POOL_OVERFLOW = 0


def direct_engine():
    """The direct pool of the current app, or None where the database is not PostgreSQL."""
    extensions = current_app.extensions
    if _DIRECT_KEY not in extensions:
        from quiz.extensions import db

        with _direct_lock:
            if _DIRECT_KEY not in extensions:
                main = db.engine
                engine = None
                if main.dialect.driver == "psycopg":
                    # Nothing to reset on return: autocommit leaves no transaction behind.
                    engine = create_engine(main.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False,
                                           pool_reset_on_return=None,
                                           pool_size=current_app.config.get("DIRECT_POOL_SIZE", 20),
                                           max_overflow=DIRECT_POOL_OVERFLOW)
                    event.listen(engine, "connect", _prepare_statements)
                extensions[_DIRECT_KEY] = engine
    return extensions[_DIRECT_KEY]


def _prepare_statements(dbapi, _record) -> None:
    """PREPARE the direct_script statements on each new direct connection (they live as long
    as it does; the server re-plans them itself after a schema change)."""
    with dbapi.cursor() as cursor:
        for statement in PREPARED:
            cursor.execute(statement.prepare_sql)
    if dbapi.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        dbapi.commit()  # run before autocommit was switched on: leave no transaction open


def dispose_direct(app) -> None:
    engine = app.extensions.pop(_DIRECT_KEY, None)
    if engine is not None:
        engine.dispose()


def on_direct(engine, work, sql: str):
    """work(psycopg connection) on a direct connection; psycopg errors come out as SQLAlchemy's
    (naming `sql`).

    Runs `work` a second time, on a fresh connection, when the first one was found dead."""
    for attempt in (1, 2):
        fairy = engine.raw_connection()
        dbapi = fairy.driver_connection
        try:
            return work(dbapi)
        except psycopg.Error as exc:
            disconnected = engine.dialect.is_disconnect(exc, dbapi, None) or dbapi.closed
            if disconnected:
                fairy.invalidate(exc)
                engine.dispose()  # the others in the pool died with it
                if attempt == 1:
                    continue
            elif not dbapi.closed:
                dbapi.rollback()  # leave no aborted transaction behind in the pool
            raise _as_sqlalchemy(exc, sql, None, disconnected) from exc
        finally:
            fairy.close()  # back to the pool (a no-op after invalidate)


def direct_rows(engine, statement: Statement, values: dict) -> list:
    """One statement on the direct pool: its own transaction (autocommit)."""
    def work(dbapi):
        with dbapi.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(statement.pg_sql, statement._pg_values(values))
            return cursor.fetchall() if cursor.description is not None else []

    return on_direct(engine, work, statement.pg_sql)


def direct_script(engine, steps: list) -> list[list]:
    """[(statement, values), ...] as one transaction in one round trip: a single query
    message `EXECUTE a(...); EXECUTE b(...)` of statements PREPAREd on the connection.

    The server runs the statements of one message as one transaction (all or nothing), each
    after the one before it with a snapshot of its own, as in a BEGIN..COMMIT block. Against
    psycopg's pipeline of the same statements (BEGIN, two executes, COMMIT, Sync) this costs
    less than half the client CPU: a submit's 0.44 -> 0.19 ms. The values are quoted by
    psycopg's client-side cursor; the statements are planned once per connection."""
    def work(dbapi):
        with psycopg.ClientCursor(dbapi, row_factory=namedtuple_row) as cursor:
            cursor.execute("; ".join(statement.execute_sql for statement, _ in steps),
                           [arg for statement, values in steps for arg in statement.execute_args(values)])
            rows = []
            for _ in steps:
                rows.append(cursor.fetchall() if cursor.description is not None else [])
                cursor.nextset()
            return rows

    return on_direct(engine, work, ";\n".join(statement.pg_sql for statement, _ in steps))


# ---- saves and submits, grouped --------------------------------------------------
#
# Everything that locks several attempt rows in one transaction (a batch of saves FOR
# SHARE, a batch of submits FOR UPDATE by their claims) locks them in ascending id order,
# so two batches never wait for each other in a circle.

_batchers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # engine -> {kind: Batcher}
_batchers_lock = threading.Lock()
SAVE_BATCH_MAX = 64
SUBMIT_BATCH_MAX = 32


def _batcher(engine, kind: str, run_batch, max_batch: int) -> Batcher:
    of_engine = _batchers.get(engine)
    if of_engine is None or kind not in of_engine:
        with _batchers_lock:
            of_engine = _batchers.setdefault(engine, {})
            if kind not in of_engine:
                # A weak reference: a Batcher holding its engine would keep its own key alive.
                engine_ref = weakref.ref(engine)
                of_engine[kind] = Batcher(lambda items: run_batch(engine_ref(), items), max_batch)
    return of_engine[kind]


def save_by_token(engine, values: dict):
    """SAVE_BY_TOKEN's row for one save ({token_hash, attempt_id, qid, display, now, cutoff}),
    run together with the saves that queue while another batch of this process is in
    flight (batching.Batcher): one statement and one commit for all of them."""
    return _batcher(engine, "save", save_batch, SAVE_BATCH_MAX).call(values)


def submit_by_token(engine, values: dict) -> tuple[list, list]:
    """(CLAIM_BY_TOKEN's rows, GRADE's rows) for one submit ({token_hash, attempt_id, auto,
    now, cutoff}), run with the submits that queue meanwhile as one message and one commit."""
    return _batcher(engine, "submit", submit_batch, SUBMIT_BATCH_MAX).call(values)


def submit_batch(engine, submits: list[dict]) -> list:
    """submit_by_token's pair for each submit, in one transaction (claims in ascending
    attempt id); a submit that failed alone gets its exception in its place."""
    if len(submits) == 1:
        return [_submit_one(engine, submits[0])]
    order = sorted(range(len(submits)), key=lambda i: submits[i]["attempt_id"])
    try:
        rows = direct_script(engine, [step for i in order for step in _submit_steps(submits[i])])
    except sqlalchemy.exc.DBAPIError:
        return _one_by_one(engine, _submit_one, submits, "submits")
    results = [None] * len(submits)
    for k, i in enumerate(order):
        results[i] = (rows[2 * k], rows[2 * k + 1])
    return results


def _submit_steps(values: dict) -> list:
    return [(CLAIM_BY_TOKEN, values), (GRADE, {"attempt_id": values["attempt_id"]})]


def _submit_one(engine, values: dict) -> tuple[list, list]:
    return tuple(direct_script(engine, _submit_steps(values)))


def save_batch(engine, saves: list[dict]) -> list:
    """SAVE_BY_TOKEN's row for each save, as one statement (SAVE_BATCH_BY_TOKEN) when there
    are several; a save that failed alone gets its exception in its place."""
    if len(saves) == 1:
        return [_save_one(engine, saves[0])]
    try:
        return direct_rows(engine, SAVE_BATCH_BY_TOKEN, {
            "token_hashes": [s["token_hash"] for s in saves], "attempt_ids": [s["attempt_id"] for s in saves],
            "qids": [s["qid"] for s in saves], "displays": [",".join(s["display"]) for s in saves],
            "nows": [s["now"] for s in saves], "cutoffs": [s["cutoff"] for s in saves],
        })
    except sqlalchemy.exc.DBAPIError:
        return _one_by_one(engine, _save_one, saves, "saves")


def _save_one(engine, values: dict):
    return direct_rows(engine, SAVE_BY_TOKEN, values)[0]


def _one_by_one(engine, run_one, items: list[dict], what: str) -> list:
    """After a failed batch: one item's trouble (a deadlock with another batch, say) must
    not fail the others, so each runs alone and gets its own outcome or exception."""
    log.warning("a batch of %d %s failed; running them one by one", len(items), what, exc_info=True)
    results = []
    for values in items:
        try:
            results.append(run_one(engine, values))
        except sqlalchemy.exc.DBAPIError as exc:
            results.append(exc)
    return results


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

# GET /api/v1/me on the direct pool: the token's holder and their attempts per day in one
# round trip (a holder without attempts comes back as one row with day NULL).
HOLDER_ATTEMPTS_BY_DAY = Statement(
    "SELECT u.id, u.name, u.district, u.role, a.day, a.n FROM api_tokens t JOIN users u ON u.id = t.user_id "
    "LEFT JOIN LATERAL (SELECT day, COUNT(*) AS n FROM attempts WHERE user_id = u.id "
    "AND contest_id = :contest_id AND practice = FALSE GROUP BY day) a ON TRUE "
    "WHERE t.token_hash = :token_hash AND t.expires_at > :now",
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

# A whole save in one statement (PostgreSQL, direct pool): the token, the attempt row
# (locked FOR SHARE, which a submit's claim waits for and which waits for a claim), the
# item, and the update, which maps the displayed keys to bank keys through the item's
# option order and happens only when everything holds. The row says which check failed.
SAVE_BY_TOKEN = Statement(
    "WITH who AS ("
    " SELECT t.user_id FROM api_tokens t WHERE t.token_hash = :token_hash AND t.expires_at > :now"
    "), head AS ("
    " SELECT a.id, a.status, a.deadline FROM attempts a"
    " WHERE a.id = :attempt_id AND a.user_id = (SELECT user_id FROM who) FOR SHARE"
    "), item AS ("
    " SELECT aq.id, aq.option_order, q.type FROM attempt_questions aq JOIN questions q ON q.id = aq.question_id"
    " WHERE aq.attempt_id = (SELECT id FROM head) AND q.qid = :qid"
    "), saved AS ("
    " UPDATE attempt_questions aq SET saved_at = :now, choices = CASE WHEN item.type = 'judge'"
    "  THEN to_json(CAST(:display AS text[]))"
    "  ELSE COALESCE((SELECT json_agg(k ORDER BY k COLLATE \"C\") FROM ("
    "   SELECT item.option_order ->> (ascii(c) - 65) AS k FROM unnest(CAST(:display AS text[])) AS c) keys),"
    "   '[]'::json) END"
    " FROM head, item WHERE aq.id = item.id AND head.status = 'active'"
    " AND (head.deadline IS NULL OR head.deadline >= :cutoff)"
    " AND CASE WHEN item.type = 'judge' THEN CAST(:display AS text[]) IN ('{true}', '{false}')"
    "  ELSE NOT CAST(:display AS text[]) && '{true,false}'"
    "  AND (item.type <> 'single' OR cardinality(CAST(:display AS text[])) <= 1)"
    "  AND NOT EXISTS (SELECT 1 FROM unnest(CAST(:display AS text[])) AS c"
    "   WHERE ascii(c) - 65 >= json_array_length(item.option_order)) END"
    " RETURNING aq.id"
    ") SELECT (SELECT user_id FROM who) AS user_id, head.status, head.deadline, item.id AS item_id,"
    " item.option_order, item.type, EXISTS (SELECT 1 FROM saved) AS saved"
    " FROM (SELECT 1) AS one LEFT JOIN head ON TRUE LEFT JOIN item ON TRUE",
)

# Several saves in one statement (PostgreSQL, direct pool): SAVE_BY_TOKEN's checks and
# update for each row of the input arrays (the n-th save is row n), with its own token,
# time and deadline cut-off. Displays come as 'A,C' (keys never hold a comma). When one
# batch saves the same item twice the later save's choices are written and both say
# saved, as if they had come one after the other. The attempt rows are locked FOR SHARE
# (in ascending id: see "grouped" below) before any item is written, as in SAVE_BY_TOKEN:
# a racing submit grades each save or the save is refused.
SAVE_BATCH_BY_TOKEN = Statement(
    "WITH r AS ("
    " SELECT r.n, r.token_hash, r.attempt_id, r.qid, string_to_array(r.display, ',') AS display, r.now, r.cutoff"
    " FROM unnest(CAST(:token_hashes AS text[]), CAST(:attempt_ids AS integer[]), CAST(:qids AS text[]),"
    "  CAST(:displays AS text[]), CAST(:nows AS timestamp[]), CAST(:cutoffs AS timestamp[]))"
    "  WITH ORDINALITY AS r(token_hash, attempt_id, qid, display, now, cutoff, n)"
    "), who AS ("
    " SELECT r.n, t.user_id FROM r JOIN api_tokens t ON t.token_hash = r.token_hash AND t.expires_at > r.now"
    "), head AS ("
    " SELECT who.n, a.id, a.status, a.deadline FROM who JOIN r ON r.n = who.n"
    " JOIN attempts a ON a.id = r.attempt_id AND a.user_id = who.user_id ORDER BY a.id FOR SHARE OF a"
    "), item AS ("
    " SELECT head.n, aq.id, aq.option_order, q.type FROM head JOIN r ON r.n = head.n"
    " JOIN attempt_questions aq ON aq.attempt_id = head.id JOIN questions q ON q.id = aq.question_id AND q.qid = r.qid"
    "), checked AS ("
    " SELECT item.n, item.id, r.now, CASE WHEN item.type = 'judge' THEN to_json(r.display)"
    "  ELSE COALESCE((SELECT json_agg(k ORDER BY k COLLATE \"C\") FROM ("
    "   SELECT item.option_order ->> (ascii(c) - 65) AS k FROM unnest(r.display) AS c) keys),"
    "   '[]'::json) END AS choices"
    " FROM item JOIN head ON head.n = item.n JOIN r ON r.n = item.n"
    " WHERE head.status = 'active' AND (head.deadline IS NULL OR head.deadline >= r.cutoff)"
    " AND CASE WHEN item.type = 'judge' THEN r.display IN ('{true}', '{false}')"
    "  ELSE NOT r.display && '{true,false}'"
    "  AND (item.type <> 'single' OR cardinality(r.display) <= 1)"
    "  AND NOT EXISTS (SELECT 1 FROM unnest(r.display) AS c"
    "   WHERE ascii(c) - 65 >= json_array_length(item.option_order)) END"
    "), saved AS ("
    " UPDATE attempt_questions aq SET saved_at = latest.now, choices = latest.choices"
    " FROM (SELECT DISTINCT ON (id) id, now, choices FROM checked ORDER BY id, n DESC) latest"
    " WHERE aq.id = latest.id RETURNING aq.id"
    ") SELECT r.n, who.user_id, head.status, head.deadline, item.id AS item_id, item.option_order, item.type,"
    " (checked.id IS NOT NULL AND EXISTS (SELECT 1 FROM saved WHERE saved.id = checked.id)) AS saved"
    " FROM r LEFT JOIN who ON who.n = r.n LEFT JOIN head ON head.n = r.n LEFT JOIN item ON item.n = r.n"
    " LEFT JOIN checked ON checked.n = r.n ORDER BY r.n",
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

# The submit on the direct pool: CLAIM_BY_TOKEN then GRADE, one direct_script (one transaction).
# GRADE returns question ids, not the questions' text: the caller has those (QUESTIONS_BY_ID,
# kept per process, as question rows never change once imported).
# GRADE runs after the claim with a snapshot of its own, so every save that held the row
# lock before the claim is graded; it does nothing unless this transaction claimed the
# attempt (finished, not yet scored: any other claimer commits its score with its claim).
CLAIM_BY_TOKEN = Statement(
    "UPDATE attempts a SET"
    " status = CASE WHEN :auto OR (a.deadline IS NOT NULL AND a.deadline < :cutoff) THEN 'expired' ELSE 'submitted' END,"
    " auto_submitted = (:auto OR (a.deadline IS NOT NULL AND a.deadline < :cutoff)),"
    " finished_at = CASE WHEN a.deadline IS NOT NULL AND a.deadline < :now THEN a.deadline ELSE :now END"
    " FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = :token_hash AND t.expires_at > :now"
    " AND a.id = :attempt_id AND a.user_id = t.user_id AND a.status = 'active'"
    " RETURNING a.id, a.user_id, a.contest_id, a.practice, a.status, a.started_at, a.deadline, a.finished_at,"
    " a.auto_submitted, a.question_count, u.name, u.district, u.role",
).prepare_as("quiz_claim_by_token")

GRADE = Statement(
    "WITH claimed AS ("
    " SELECT id FROM attempts WHERE id = :attempt_id AND status <> 'active' AND score IS NULL"
    "), graded AS ("
    " UPDATE attempt_questions aq SET correct = COALESCE(json_array_length(aq.choices) > 0"
    "  AND ARRAY(SELECT k FROM json_array_elements_text(aq.choices) AS k ORDER BY k)"
    "  = ARRAY(SELECT k FROM json_array_elements_text(q.answer) AS k ORDER BY k), FALSE)"
    " FROM questions q, claimed WHERE aq.attempt_id = claimed.id AND q.id = aq.question_id"
    " RETURNING aq.id, aq.position, aq.option_order, aq.choices, aq.correct, aq.points, aq.question_id"
    "), totals AS ("
    " UPDATE attempts a SET score = s.score, max_score = s.max_score, correct_count = s.correct_count,"
    " time_used_ms = GREATEST(0, FLOOR(EXTRACT(EPOCH FROM a.finished_at - a.started_at) * 1000))"
    " FROM claimed, (SELECT COALESCE(SUM(points) FILTER (WHERE correct), 0) AS score,"
    "  COALESCE(SUM(points), 0) AS max_score, COUNT(*) FILTER (WHERE correct) AS correct_count FROM graded) s"
    " WHERE a.id = claimed.id"
    " RETURNING a.score, a.max_score, a.correct_count, a.time_used_ms"
    ") SELECT totals.score, totals.max_score, totals.correct_count, totals.time_used_ms, graded.*"
    " FROM totals LEFT JOIN graded ON TRUE ORDER BY graded.position",
).prepare_as("quiz_grade")

QUESTIONS_BY_ID = Statement(
    "SELECT id, qid, type, stem, options, answer, explanation FROM questions WHERE id IN :ids",
    lists=("ids",),
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

# What direct_script may run: PREPAREd on every direct connection.
PREPARED = (CLAIM_BY_TOKEN, GRADE)
