"""Application-wide defences: headers, deny-by-default, anti-automation limits, readiness, the 2FA step.

What each defence covers, and which OWASP ASVS items it answers, is written up
in docs/security.md.
"""
import logging
import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_limiter.util import get_qualified_name
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from quiz import totp
from quiz.accounts import AccountError, normalize_phone
from quiz.auth import (
    api_token_holder,
    bearer_token,
    citizen_login_required,
    mark_totp_passed,
    note_totp_failure,
    public,
    signed_in,
    totp_failed,
    totp_passed,
)
from quiz.extensions import db, limiter
from quiz.models import ROLE_CITY, ROLE_DISTRICT
from quiz.redis_connection import redis_client
from quiz.web import budgets

log = logging.getLogger(__name__)
ACCESS_MARKS = {"public", "login", "organizer", "city"}

bp = Blueprint("security", __name__)


# ---- who is asking (rate-limit keys) -------------------------------------------

def client_address() -> str | None:
    """The client's address as the rate limits see it (after ProxyFix); also stored with a
    registration and an attempt's start for the review flags (quiz/review.py)."""
    return request.remote_addr


def client_ip() -> str:
    return "ip:" + (client_address() or "-")


def login_phone() -> str:
    """The phone a login or token request names, as stored ("" skips the per-phone limits):
    "+86 139-0000-0001" and "13900000001" draw on one budget. Read once a request (three
    budgets key by it)."""
    if "login_phone_key" not in g:
        g.login_phone_key = _login_phone()
    return g.login_phone_key


def _login_phone() -> str:
    try:
        if request.mimetype == "application/json":
            data = request.get_json(silent=True)
            phone = data.get("phone") if isinstance(data, dict) else None
        else:
            phone = request.form.get("phone")
    except HTTPException:  # e.g. a body over MAX_CONTENT_LENGTH: the view answers 413
        return ""
    if not isinstance(phone, str) or not phone.strip():
        return ""
    try:
        return "phone:" + normalize_phone(phone)
    except AccountError:
        return "phone:" + phone.strip()[:20]


def login_phone_at_ip() -> str:
    """One phone from one address: a guesser elsewhere never spends the owner's budget."""
    phone = login_phone()
    return f"{phone}|{client_ip()}" if phone else ""


def totp_account() -> str:
    """Whose second factor is tried: the signed-in organizer on /login/totp, the phone of a
    token request: one budget per account across the page and the API."""
    if request.endpoint == "security.login_totp":
        return f"totp:{current_user.phone}" if current_user.is_authenticated else client_ip()
    phone = login_phone()
    return "totp:" + phone.removeprefix("phone:") if phone else ""


def citizen_key() -> str:
    """Per citizen: the bearer token's user on /api, the cookie session's elsewhere, else the IP."""
    if request.path.startswith("/api/"):
        owner = _token_owner()
        return f"user:{owner}" if owner is not None else client_ip()
    return f"user:{current_user.id}" if current_user.is_authenticated else client_ip()


# Bearer token -> its user's id, for the rate-limit key only, remembered per process for a
# minute. A save checks its token in its own statement, so without this the limit alone
# cost every save a look-up of the token (a round trip). A token revoked within the minute
# can at most be counted against its old owner: what it may do is still decided in SQL.
TOKEN_OWNER_TTL_S = 60.0
TOKEN_OWNERS_MAX = 50_000


def _token_owner() -> int | None:
    token = bearer_token()
    if not token:
        return None
    owners = current_app.extensions.setdefault("quiz.token_owners", {})
    known = owners.get(token)
    now = time.monotonic()
    if known is not None and known[1] > now:
        return known[0]
    holder = api_token_holder()
    if holder is None:
        return None  # unknown tokens are looked up each time: they are keyed by IP
    if len(owners) >= TOKEN_OWNERS_MAX:
        owners.clear()
    owners[token] = (holder.id, now + TOKEN_OWNER_TTL_S)
    return holder.id


def note_login(ok: bool) -> None:
    """What the password check of this login said: the login budgets deduct by it (a request
    refused before the check, by a limit, CSRF or its shape, costs no budget)."""
    g.login_outcome = "ok" if ok else "failed"


def _login_failed() -> bool:
    return g.get("login_outcome") == "failed"


def _login_succeeded() -> bool:
    return g.get("login_outcome") == "ok"


def _password_checked() -> bool:
    return g.get("login_outcome") is not None


def _config_limit(name: str):
    def provider() -> str:
        return current_app.config[name]

    provider.__name__ = f"limit_{name.lower()}"
    return provider


# The login budgets are shared (scope) by the login pages and the API token route. Failures
# count per phone *and* address, so that nobody can lock a citizen out from elsewhere; an
# address's own budgets are sized for a school or a carrier behind one address (docs/security.md).
# They are checked in one Redis round trip (quiz/web/budgets.py); the other limits below are
# Flask-Limiter's, whose limit objects are module-level: it keeps them per limiter, and every
# create_app (one per test) re-applies the same objects instead of piling up copies.
_LOGIN_BUDGETS = (
    budgets.Budget("login-phone-ip", "LOGIN_FAILURE_LIMIT", login_phone_at_ip, spends=_login_failed),
    budgets.Budget("login-ip", "LOGIN_ADDRESS_FAILURE_LIMIT", client_ip, spends=_login_failed),
    # Every password check costs a scrypt hash (~0.4 s of a core, quiz/passwords.py): successes count too.
    # Presumed: most logins succeed, and then the check's round trip is the only one.
    budgets.Budget("logins-ip", "LOGIN_ADDRESS_LIMIT", client_ip, spends=_password_checked, presumed=True),
    budgets.Budget("login-ok-phone", "LOGIN_SUCCESS_LIMIT", login_phone, spends=_login_succeeded, presumed=True),
)
# Wrong second-factor codes, per account: one budget for /login/totp and the token route.
_TOTP_BUDGET = budgets.Budget("totp-account", "LOGIN_FAILURE_LIMIT", totp_account, spends=totp_failed)
_login_failures = _config_limit("LOGIN_FAILURE_LIMIT")

# Every login budget, for /login, /login/code, /reset and POST /api/v1/auth/reset (the view calls note_login).
login_limits = budgets.guard(*_LOGIN_BUDGETS)
# The token route: the login budgets and the TOTP budget, checked together.
token_limits = budgets.guard(*_LOGIN_BUDGETS, _TOTP_BUDGET)
TOTP_PER_ACCOUNT = budgets.guard(_TOTP_BUDGET)
# Registrations and codes asked for, per address (page and API share it): every POST counts.
REGISTER_PER_IP = budgets.guard(budgets.Budget("register-ip", "REGISTER_LIMIT", client_ip))
# Certificate verification codes looked up from one address (the codes are unguessable; this stops walking them).
CERTIFICATE_LOOKUPS_PER_IP = limiter.limit(_config_limit("CERTIFICATE_LOOKUP_LIMIT"), key_func=client_ip,
                                           methods=["GET"])

# Attempt starts and answer saves, per citizen at a generous human rate; every request counts.
ATTEMPT_STARTS = ("api.start", "citizen.start_quiz", "citizen.start_practice")
ANSWER_SAVES = ("api.save", "citizen.autosave", "citizen.save_form")
_STARTS_AND_SAVES = (
    (ATTEMPT_STARTS, budgets.Budget("attempt-start", "ATTEMPT_START_LIMIT", citizen_key), ("POST",)),
    (ANSWER_SAVES, budgets.Budget("answer-save", "ANSWER_SAVE_LIMIT", citizen_key), ("POST", "PUT")),
)


def _no_limit_applies() -> bool:
    """Flask-Limiter's request filter: True for a view none of its limits can apply to (no
    limit decorator of its own; the budgets of quiz/web/budgets.py are not its), so that resolving its
    limits (a third of the app's time on /healthz, docs/benchmarks.md) is skipped. Decided
    once per endpoint: limits are attached when the views are defined."""
    endpoint = request.endpoint
    if endpoint is None:
        return False
    known = current_app.extensions.setdefault("quiz_unlimited_endpoints", {})
    if endpoint not in known:
        view = current_app.view_functions.get(endpoint)
        known[endpoint] = (view is not None and get_qualified_name(view) not in limiter._marked_for_limiting
                           and not limiter.limit_manager.has_hints(endpoint))
    return known[endpoint]


limiter.request_filter(_no_limit_applies)  # module level: once, however many apps are built
# Looking results up by a full phone number (/admin/results?phone=): each use counts, on the
# login's budget per organizer, so the filter cannot be walked through the numbers.
PHONE_FILTER_PER_USER = limiter.limit(_login_failures, key_func=citizen_key, methods=["GET"],
                                      exempt_when=lambda: not request.args.get("phone"))


# ---- wiring --------------------------------------------------------------------

def init_app(app) -> None:
    if app.config.get("PROXY_FIX_X_FOR"):
        # Behind nginx: take the client IP from X-Forwarded-For, trusting only that many proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"],
                                x_proto=app.config["PROXY_FIX_X_FOR"])
    app.before_request(deny_unmarked_views)
    app.after_request(security_headers)
    app.register_blueprint(bp)
    _check_limits_only_where_they_apply(app)


def _check_limits_only_where_they_apply(app) -> None:
    """Flask-Limiter's per-request check (its before_request) runs only for views a limit
    applies to (_no_limit_applies): even with nothing to count it resolves exemptions and meta
    limits on every request. Left as it is if this Flask-Limiter registers its check otherwise."""
    hooks = app.before_request_funcs.get(None, [])
    for index, hook in enumerate(hooks):
        if getattr(hook, "__self__", None) is limiter and getattr(hook, "__name__", "") == "_check_request_limit":
            def check_request_limit(check=hook):
                if not _no_limit_applies():
                    return check()
                return None

            hooks[index] = check_request_limit


def guard_starts_and_saves(app) -> None:
    """The attempt-start and answer-save budgets on the views that take them (every path to
    them: the /c/<slug>/ twins share the endpoints); after the blueprints are registered."""
    for endpoints, budget, methods in _STARTS_AND_SAVES:
        for endpoint in endpoints:
            app.view_functions[endpoint] = budgets.guard(budget, methods=methods)(app.view_functions[endpoint])


def deny_unmarked_views():
    """Fail closed: a view without an access mark from quiz.auth is never served."""
    if request.endpoint is None or request.endpoint.rpartition(".")[2] == "static":  # app or blueprint files
        return None
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "access", None) not in ACCESS_MARKS:
        log.error("view %s has no access mark; denied", request.endpoint)
        abort(403)
    return None


def content_security_policy() -> str:
    ancestors = "'none'"
    if request.blueprint == "display":
        ancestors = current_app.config.get("DISPLAY_FRAME_ANCESTORS") or "'none'"
    return ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}")


def _private_response() -> bool:
    """Responses for one person (or carrying a token) must not be kept by any cache."""
    if request.endpoint == "static":
        return False
    if request.path.startswith("/api/"):
        return bool(request.headers.get("Authorization")) or request.endpoint in ("api.token", "api.register")
    return request.path.startswith(("/admin", "/login", "/register", "/code", "/reset")) or signed_in()


_EVERY_RESPONSE = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
                   ("Cross-Origin-Opener-Policy", "same-origin"),
                   ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"))


def security_headers(response):
    """The headers every response carries, unless its view set its own; read the response's
    headers once (werkzeug's setdefault scans them all for each header)."""
    headers = response.headers
    present = {key.lower() for key in headers.keys()}
    csp = content_security_policy()
    wanted = [("Content-Security-Policy", csp)]
    if "frame-ancestors 'none'" in csp:
        wanted.append(("X-Frame-Options", "DENY"))
    wanted.extend(_EVERY_RESPONSE)
    if current_app.config.get("PREFERRED_URL_SCHEME") == "https" or request.is_secure:
        wanted.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    headers.extend([(key, value) for key, value in wanted if key.lower() not in present])
    if _private_response():
        headers["Cache-Control"] = "no-store"
    return response


# ---- readiness -------------------------------------------------------------------

@bp.get("/readyz")
@public
def readyz():
    """200 when the database and Redis answer, else 503 naming the one that failed."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        log.warning("readyz: database unreachable", exc_info=True)
        checks["database"] = "unavailable"
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except Exception:  # noqa: BLE001
        log.warning("readyz: redis unreachable", exc_info=True)
        checks["redis"] = "unavailable"
    response = jsonify(checks)
    response.status_code = 200 if all(v == "ok" for v in checks.values()) else 503
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- the organizers' second factor ------------------------------------------------

class TotpForm(FlaskForm):
    code = StringField("动态验证码", validators=[InputRequired("请输入 6 位动态验证码。"), Length(min=6, max=8)])


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path of this site, else `default`: every redirect to a `next` goes here.

    Refused: another host (`//evil.example`, `https://evil.example`), a backslash (`/\\evil`,
    which browsers read as `//`) and any control or space character (browsers drop a tab or
    a newline, so `/\t/evil.example` would become `//evil.example`).
    """
    if not isinstance(target, str) or not target:
        return default
    if any(not ch.isprintable() or ch.isspace() for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@bp.route("/login/totp", methods=["GET", "POST"])
@citizen_login_required
@TOTP_PER_ACCOUNT
def login_totp():
    user = current_user
    if user.role not in (ROLE_CITY, ROLE_DISTRICT):
        return redirect(url_for("citizen.index"))
    next_page = safe_next(request.args.get("next"), url_for("admin.dashboard"))
    if totp_passed(user):
        return redirect(next_page)
    form = TotpForm()
    error = None
    if not user.totp_secret:
        error = "此组织者账号尚未登记动态验证码，请联系系统管理员运行 flask admin totp --phone 手机号 登记。"
        return render_template("security/totp.html", form=form, error=error, enrolled=False), 403
    if form.validate_on_submit():
        if totp.verify(user.totp_secret, form.code.data, time.time()):
            mark_totp_passed(user)
            return redirect(next_page)
        note_totp_failure()
        error = "动态验证码不正确或已过期（请输入 6 位半角数字）。"
    elif form.errors:
        error = next(iter(form.errors.values()))[0]
    return render_template("security/totp.html", form=form, error=error, enrolled=True), 200 if error is None else 401
