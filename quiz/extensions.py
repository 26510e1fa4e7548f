"""Unbound extension objects; create_app binds them."""
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


def listen_sqlite_pragmas():
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _sqlite_pragmas):
        event.listen(Engine, "connect", _sqlite_pragmas)


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
