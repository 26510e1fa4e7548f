"""Fixed statements on a pool of their own: autocommit connections of the app's database.

A save, a submit and a token look-up are each a whole transaction. Through the ORM
session each paid a pool checkout with its ping, BEGIN and COMMIT besides its own
statement; here a statement is one round trip, and `script` sends several PREPAREd
statements as one message (one transaction). A connection found dead (the database
restarted) empties the pool and the call runs once more on a fresh one, so every
statement run here must be safe to repeat. The connections hold PREPAREd statements: a
pooler between the app and PostgreSQL must pool by session, not by transaction.

Statements are written with `:name` parameters; psycopg adapts Python lists to arrays.
"""
import contextlib
import re
import threading
import weakref

import orjson
import psycopg
import sqlalchemy.exc
from flask import current_app, has_app_context
from psycopg.rows import namedtuple_row
from psycopg.types.json import set_json_loads
from sqlalchemy import create_engine, event
from sqlalchemy.orm import scoped_session

from quiz.extensions import db

set_json_loads(orjson.loads)  # a submit reads ~80 small JSON values: orjson parses them 5x faster


class Statement:
    """One fixed statement. `prepared` names it for a server-side PREPARE on every direct
    connection, which `script` needs (a message of EXECUTEs)."""

    def __init__(self, sql: str, prepared: str | None = None):
        self.sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)
        self.prepared = prepared
        if prepared:
            names: list[str] = []

            def positional(match):
                if match.group(1) not in names:
                    names.append(match.group(1))
                return f"${names.index(match.group(1)) + 1}"

            self.prepare_sql = f"PREPARE {prepared} AS " + re.sub(r"%\((\w+)\)s", positional, self.sql)
            self.execute_sql = f"EXECUTE {prepared}(" + ", ".join("%s" for _ in names) + ")"
            self.names = tuple(names)
            _PREPARED.append(self)

    def execute_args(self, values: dict) -> list:
        return [values[name] for name in self.names]


_PREPARED: list[Statement] = []  # every Statement(prepared=...) made, PREPAREd on each new connection
_pools: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # main engine -> direct engine
_pools_lock = threading.Lock()
POOL_SIZE = 20  # = a gevent worker's connections (gunicorn.conf.py): a request never waits for one


def pool_of(main):
    """The direct engine beside `main` (the ORM's engine): same database, autocommit, no ping
    at checkout, no overflow (an overflow connection is closed on return, so under load each
    one was opened again with its PREPAREs)."""
    engine = _pools.get(main)
    if engine is None:
        with _pools_lock:
            engine = _pools.get(main)
            if engine is None:
                size = current_app.config.get("DIRECT_POOL_SIZE", POOL_SIZE) if has_app_context() else POOL_SIZE
                engine = create_engine(main.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False,
                                       pool_reset_on_return=None, pool_size=size, max_overflow=0,
                                       hide_parameters=True)
                event.listen(engine, "connect", _prepare_statements)
                _pools[main] = engine
    return engine


def pool_for(session):
    """The direct engine of the database `session` works on. The request's scoped session
    is not instantiated for this: a save or a hand-in never touches the ORM."""
    return pool_of(db.engine if isinstance(session, scoped_session) else session.get_bind())


def dispose(main) -> None:
    engine = _pools.pop(main, None)
    if engine is not None:
        engine.dispose()


def _prepare_statements(dbapi, _record) -> None:
    with dbapi.cursor() as cursor:
        # Every statement here is fixed text run thousands of times, and each is a few
        # index look-ups per input row: plan it once (re-planning a save cost more than
        # running it), and never by a guess of the input's size (PostgreSQL assumes 100
        # rows for a JSON batch and then hashes whole tables) but by nested index loops.
        cursor.execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off;"
                       " SET enable_hashjoin = off; SET enable_mergejoin = off")
        for statement in _PREPARED:
            cursor.execute(statement.prepare_sql)
    if dbapi.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        dbapi.commit()  # run before autocommit was switched on: leave no transaction open


def _as_sqlalchemy(exc, sql: str, disconnected: bool) -> sqlalchemy.exc.DBAPIError:
    """psycopg's error as SQLAlchemy's (the error handlers look for those), naming the
    statement but never its parameters (phones, names, hashes)."""
    return sqlalchemy.exc.DBAPIError.instance(sql, None, exc, psycopg.Error, connection_invalidated=disconnected,
                                              hide_parameters=True)


def _found_dead(engine, exc: psycopg.Error, dbapi) -> bool:
    """The connection is gone (e.g. the server restarted), not just the statement refused."""
    return engine.dialect.is_disconnect(exc, dbapi, None) or dbapi.closed


def _on_connection(engine, work, sql: str):
    """work(psycopg connection) on a direct connection, once more on a fresh one when the
    first was found dead; psycopg errors come out as SQLAlchemy's."""
    for attempt in (1, 2):
        fairy = engine.raw_connection()
        dbapi = fairy.driver_connection
        try:
            return work(dbapi)
        except psycopg.Error as exc:
            disconnected = _found_dead(engine, exc, dbapi)
            if disconnected:
                fairy.invalidate(exc)
                engine.dispose()  # the others in the pool died with it
                if attempt == 1:
                    continue
            # Autocommit: a failed statement leaves no transaction behind. (A ROLLBACK would
            # make psycopg DEALLOCATE ALL, the PREPAREd statements of _PREPARED included.)
            raise _as_sqlalchemy(exc, sql, disconnected) from exc
        finally:
            fairy.close()  # back to the pool (a no-op after invalidate)


def rows(engine, statement: Statement, values: dict) -> list:
    """One statement as its own transaction: its rows (attribute access, _asdict()) or []."""
    return _on_connection(engine, lambda dbapi: _rows_on(dbapi, statement, values), statement.sql)


def _rows_on(dbapi, statement: Statement, values: dict) -> list:
    """One statement by the extended protocol (psycopg PREPAREs it on the connection after a
    few runs): its rows."""
    with dbapi.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(statement.sql, values)
        return cursor.fetchall() if cursor.description is not None else []


def first(engine, statement: Statement, values: dict):
    found = rows(engine, statement, values)
    return found[0] if found else None


def script(engine, steps: list) -> list[list]:
    """[(prepared statement, values), ...] as one transaction in one round trip: a single
    query message `EXECUTE a(...); EXECUTE b(...)`.

    The server runs the statements of one message as one transaction (all or nothing), each
    with a snapshot of its own taken after the one before it ran, as in BEGIN..COMMIT.
    Values are quoted by psycopg's client-side cursor."""
    return _on_connection(engine, lambda dbapi: _message(dbapi, None, steps, None),
                          ";\n".join(statement.sql for statement, _ in steps))


def _message(dbapi, first: str | None, steps: list, last: str | None) -> list[list]:
    """One query message: `first`, the steps, `last` (BEGIN, COMMIT: no rows of theirs);
    values quoted by psycopg's client-side cursor. Steps that are all PREPAREd statements go
    as EXECUTEs (planned once per connection), others as their text. The rows of each step."""
    if all(statement.prepared for statement, _ in steps):
        texts = [statement.execute_sql for statement, _ in steps]
        params: list | dict = [arg for statement, values in steps for arg in statement.execute_args(values)]
    else:
        texts = [statement.sql for statement, _ in steps]
        params = {}
        for _, step_values in steps:
            params.update(step_values)
    sql = "; ".join(([first] if first else []) + texts + ([last] if last else []))
    with psycopg.ClientCursor(dbapi, row_factory=namedtuple_row) as cursor:
        cursor.execute(sql, params)
        results = []
        while True:
            if cursor.pgresult is not None and cursor.pgresult.command_status not in (b"BEGIN", b"COMMIT"):
                results.append(cursor.fetchall() if cursor.description is not None else [])
            if not cursor.nextset():
                return results


class Transaction:
    """Statements on one direct connection in a transaction that stays open between them,
    e.g. across a call to another service (phone_codes.issue: the SMS gateway). Given by
    `transaction`; `begin` sends BEGIN and the first statements in one message."""

    def __init__(self, engine, fairy):
        self.engine = engine
        self.fairy = fairy
        self.dbapi = fairy.driver_connection
        self.done = False

    def begin(self, steps: list) -> list[list]:
        """BEGIN, then [(Statement, values), ...] in one message (each statement's snapshot is
        taken after the one before it ran): the rows of each. A connection found dead (a
        restarted server) is replaced once: nothing had been sent on it."""
        for attempt in (1, 2):
            try:
                return _message(self.dbapi, "BEGIN", steps, None)
            except psycopg.Error as exc:
                if attempt == 2 or not _found_dead(self.engine, exc, self.dbapi):
                    raise
                self.fairy.invalidate(exc)
                self.engine.dispose()
                self.fairy = self.engine.raw_connection()
                self.dbapi = self.fairy.driver_connection

    def rows(self, statement: Statement, values: dict) -> list:
        """One statement in the transaction: its rows (as `rows`)."""
        return _rows_on(self.dbapi, statement, values)

    def finish(self, steps: list) -> list[list]:
        """[(Statement, values), ...] then COMMIT, in one message: the rows of each."""
        results = _message(self.dbapi, None, steps, "COMMIT")
        self.done = True
        return results

    def commit(self) -> None:
        self.dbapi.execute("COMMIT")
        self.done = True

    def abandon(self) -> None:
        """End the transaction by closing the connection (a ROLLBACK would make psycopg
        DEALLOCATE ALL, the PREPAREd statements of _PREPARED included); the pool opens another."""
        self.fairy.invalidate()
        self.done = True


@contextlib.contextmanager
def transaction(engine):
    """A Transaction on a direct connection: committed when the block ends without having
    ended it, abandoned when the block raises; psycopg errors come out as SQLAlchemy's."""
    tx = Transaction(engine, engine.raw_connection())
    try:
        yield tx
        if not tx.done:
            tx.commit()
    except psycopg.Error as exc:
        if not tx.done:
            tx.abandon()
        raise _as_sqlalchemy(exc, "transaction", _found_dead(engine, exc, tx.dbapi)) from exc
    except BaseException:
        if not tx.done:
            tx.abandon()
        raise
    finally:
        tx.fairy.close()  # back to the pool (a no-op after invalidate)
