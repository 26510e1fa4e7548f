"""Who is asking: cookie sessions for pages, bearer tokens for the API, role guards."""
import time
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user, user_logged_in, user_logged_out
from sqlalchemy import select

from quiz import totp
from quiz.accounts import TokenHolder, holder_granted, revoke_sessions, token_account, token_holder
from quiz.clock import utcnow
from quiz.extensions import db, login_manager
from quiz.models import ROLE_CITY, ROLE_DISTRICT, User

# What Flask-Login itself keeps in the session; everything else is dropped at login.
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds")
TOTP_SESSION_KEY = "totp_passed"


def init_app(app) -> None:
    login_manager.login_view = "citizen.login"
    login_manager.login_message = "请先登录。"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)
    # Module-level receivers: blinker keeps one connection however many apps are built.
    user_logged_in.connect(_fresh_session_on_login)
    user_logged_out.connect(_revoke_on_logout)


def _fresh_session_on_login(_app, user, **_extra) -> None:
    """A new session at login: nothing from before it (e.g. a planted CSRF token or 2FA flag) survives."""
    for key in [k for k in session.keys() if k not in _LOGIN_KEYS]:
        session.pop(key)
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)  # Flask-WTF's per-request copy


def _revoke_on_logout(_app, user, **_extra) -> None:
    """Logout bumps session_version: copied session cookies and remember-me cookies stop working."""
    if isinstance(user, User):
        revoke_sessions(db.session, user, api_tokens=False)  # apps stay signed in, as citizen.logout chose


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


def signed_in() -> bool:
    """current_user.is_authenticated, without asking Flask-Login when the request carries
    neither a session user nor a remember-me cookie (health checks, API calls, first visits):
    it would find no one, after hashing the client's address for session protection."""
    if "_user_id" not in session and current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") not in request.cookies:
        return False
    return current_user.is_authenticated


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, unchecked."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def api_token_holder() -> TokenHolder | None:
    """Who the bearer token belongs to (id, name, district, role); the API never looks at cookies."""
    if "api_holder" not in g:
        token = bearer_token()
        g.api_holder = token_holder(db.session, token, utcnow()) if token else None
    return g.api_holder


def api_granted_holder() -> TokenHolder | None:
    """api_token_holder() if the token grants its user's present role (as api_user decides),
    without loading the User: who a start acts as."""
    return holder_granted(api_token_holder(), bool(current_app.config.get("ADMIN_REQUIRE_TOTP")))


def api_user() -> User | None:
    """The token's User, for views that need more than api_token_holder() gives (starts, the
    organizers' API): None when the token does not grant the user's present role
    (accounts.token_grants), e.g. a citizen's token after the account became an organizer,
    or an organizer's token issued without TOTP while ADMIN_REQUIRE_TOTP is on."""
    if "api_user" not in g:
        holder = api_token_holder()
        g.api_user = token_account(db.session, bearer_token(), holder.id,
                                   bool(current_app.config.get("ADMIN_REQUIRE_TOTP"))) if holder is not None else None
    return g.api_user


def totp_required_for(user) -> bool:
    return bool(current_app.config.get("ADMIN_REQUIRE_TOTP")) and user.role in (ROLE_CITY, ROLE_DISTRICT)


def totp_passed(user) -> bool:
    """This session passed /login/totp as this user at this session version."""
    return session.get(TOTP_SESSION_KEY) == user.get_id()


def mark_totp_passed(user) -> None:
    session[TOTP_SESSION_KEY] = user.get_id()


def note_totp_failure() -> None:
    """A wrong second-factor code in this request: the account's one TOTP budget (page and API) pays."""
    g.totp_failed = True


def totp_failed() -> bool:
    return bool(g.get("totp_failed"))


class SecondFactorRefused(Exception):
    """An organizer asked for an API token without the right TOTP code while ADMIN_REQUIRE_TOTP is on."""


def token_second_factor(user, code) -> bool:
    """Whether a token for `user` is issued with the second factor (an organizer's right code).

    With ADMIN_REQUIRE_TOTP an organizer without the right code is refused
    (SecondFactorRefused) and the failure counts against the account's TOTP budget.
    """
    passed = user.is_organizer and code is not None and totp.verify(user.totp_secret, code, time.time())
    if totp_required_for(user) and not passed:
        note_totp_failure()
        raise SecondFactorRefused()
    return passed


# An organizer's "remember me" lasts at most this long (citizens keep Flask-Login's default).
MAX_ORGANIZER_REMEMBER = timedelta(days=30)


def remember_for(user) -> timedelta | None:
    """How long a "remember me" cookie of `user` lasts (None: REMEMBER_COOKIE_DURATION)."""
    if not user.is_organizer:
        return None
    days = current_app.config.get("ORGANIZER_REMEMBER_DAYS", 30)
    return min(timedelta(days=days), MAX_ORGANIZER_REMEMBER)


def _second_factor_redirect():
    return redirect(url_for("security.login_totp", next=request.full_path if request.method == "GET" else None))


def _role_guard(roles: tuple[str, ...], access: str):
    """A decorator: anonymous -> login page (302), other roles -> 403, then the second factor."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            if totp_required_for(current_user) and not totp_passed(current_user):
                return _second_factor_redirect()
            return view(*args, **kwargs)

        guarded.access = access
        return guarded

    return decorate


# Console pages for city and district organizers.
organizer_required = _role_guard((ROLE_CITY, ROLE_DISTRICT), "organizer")
# City organizers only: contests, bank uploads, retiring questions, the audit log.
city_organizer_required = _role_guard((ROLE_CITY,), "city")


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
