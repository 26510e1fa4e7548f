"""Unbound extension objects; create_app binds them."""
import threading

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


def redis_client():
    """The one Redis client of this app (created on first use)."""
    return current_app.extensions["quiz_redis"].client()


def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets gunicorn workers read while one writes; foreign keys as on PostgreSQL.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


# ---- SQLite in a gevent worker ----------------------------------------------------
#
# SQLite waits for another connection's write lock inside C (the busy timeout), which
# stalls every greenlet of the process. If the greenlet holding the lock is itself waiting
# (on Redis, say), nothing moves until the timeout fails the waiter. So in a gevent worker
# a connection takes this process-wide lock before its first write and drops it when its
# transaction ends: a second writer of the same process waits here, where waiting yields.
# Readers never take it (WAL lets them read beside a writer); other processes' writers
# are other processes and move on by themselves.

_WRITES = ("insert", "update", "delete", "replace", "with")  # a CTE may write: count it as one
_sqlite_writer = threading.Lock()  # gevent's lock once gunicorn.conf.py has patched threading


def _take_write_lock(conn, _cursor, statement, _parameters, _context, _executemany):
    if conn.dialect.name == "sqlite" and not conn.info.get("sqlite_writer") \
            and statement.lstrip()[:7].lower().startswith(_WRITES):
        _sqlite_writer.acquire()
        conn.info["sqlite_writer"] = True


def _drop_write_lock(info) -> None:
    if info.pop("sqlite_writer", False):
        _sqlite_writer.release()


def listen_sqlite_pragmas():
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    from quiz.config import cooperative

    if not event.contains(Engine, "connect", _sqlite_pragmas):
        event.listen(Engine, "connect", _sqlite_pragmas)
    if cooperative() and not event.contains(Engine, "before_cursor_execute", _take_write_lock):
        event.listen(Engine, "before_cursor_execute", _take_write_lock)
        # The transaction ends in commit or rollback; checkin covers a connection returned
        # (or invalidated) without either.
        event.listen(Engine, "commit", lambda conn: _drop_write_lock(conn.info))
        event.listen(Engine, "rollback", lambda conn: _drop_write_lock(conn.info))
        event.listen(Pool, "checkin", lambda _dbapi, record: record is not None and _drop_write_lock(record.info))


def close_session_safely(_exc=None) -> None:
    """End the request's session without letting a dead connection fail the response.

    Registered after Flask-SQLAlchemy, so it runs before its teardown: when the
    database restarted mid-request the ROLLBACK inside close() raises, and we
    discard the connection instead (the pool's pre-ping replaces it).
    """
    from sqlalchemy.exc import DBAPIError

    try:
        db.session.remove()
    except DBAPIError:
        db.session.registry().invalidate()
        db.session.registry.clear()


def dispose_engines() -> None:
    """Close the current app's database connections: the session's pool and the direct one."""
    from quiz import hot_sql

    hot_sql.dispose_direct(current_app)
    db.engine.dispose()
