"""Who is asking: cookie sessions for pages, bearer tokens for the API, role guards."""
from functools import wraps

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import select

from quiz.accounts import user_for_token
from quiz.clock import utcnow
from quiz.extensions import db, listen_sqlite_pragmas, login_manager
from quiz.models import ROLE_CITY, ROLE_DISTRICT, User


def init_app(app) -> None:
    listen_sqlite_pragmas()
    login_manager.login_view = "citizen.login"
    login_manager.login_message = "请先登录。"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)


def load_user(user_key: str) -> User | None:
    """Cookie id is "<user id>:<session version>": logout bumps the version, killing old cookies."""
    try:
        user_id, version = (int(part) for part in user_key.split(":"))
    except ValueError:
        return None
    user = db.session.scalar(select(User).where(User.id == user_id))
    if user is None or user.session_version != version:
        return None
    return user


def api_user() -> User | None:
    """The user of a bearer token; the API never looks at cookies."""
    if "api_user" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        g.api_user = user_for_token(db.session, token.strip(), utcnow()) if scheme.lower() == "bearer" and token.strip() else None
    return g.api_user


def organizer_required(view):
    """Console pages: anonymous -> login page (302), citizens -> 403."""
    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role not in (ROLE_CITY, ROLE_DISTRICT):
            abort(403)
        return view(*args, **kwargs)

    guarded.access = "organizer"
    return guarded


def city_organizer_required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role != ROLE_CITY:
            abort(403)
        return view(*args, **kwargs)

    guarded.access = "city"
    return guarded


def citizen_login_required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    guarded.access = "login"
    return guarded


def public(view):
    """Mark a view as deliberately open to everyone (the route walk test checks marks)."""
    view.access = "public"
    return view


def district_scope(user) -> str | None:
    """The district an organizer may see; None means the whole city."""
    return user.district if user.role == ROLE_DISTRICT else None
