"""The ORM session's life around a request, and closing an app's connections."""
from sqlalchemy.exc import DBAPIError

from quiz.db import direct
from quiz.extensions import db


def close_session_safely(_exc=None) -> None:
    """End the request's session without letting a dead connection fail the response.

    Registered after Flask-SQLAlchemy, so it runs before its teardown: when the
    database restarted mid-request the ROLLBACK inside close() raises, and we
    discard the connection instead (the pool's pre-ping replaces it).
    """
    try:
        db.session.remove()
    except DBAPIError:
        db.session.registry().invalidate()
        db.session.registry.clear()


def dispose_engines() -> None:
    """Close the current app's database connections: the session's pool and the direct one."""
    direct.dispose(db.engine)
    db.engine.dispose()
