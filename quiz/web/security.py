"""Application-wide defences: headers, deny-by-default, anti-automation limits, readiness, the 2FA step.

What each defence covers, and which OWASP ASVS items it answers, is written up
in docs/security.md.
"""
import logging
import time

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from quiz import totp
from quiz.auth import api_token_holder, bearer_token, citizen_login_required, mark_totp_passed, public, totp_passed
from quiz.extensions import db, limiter
from quiz.models import ROLE_CITY, ROLE_DISTRICT
from quiz.redis_connection import redis_client

log = logging.getLogger(__name__)
ACCESS_MARKS = {"public", "login", "organizer", "city"}

bp = Blueprint("security", __name__)


# ---- who is asking (rate-limit keys) -------------------------------------------

def client_ip() -> str:
    return "ip:" + (request.remote_addr or "-")


def login_phone() -> str:
    """The phone a login or token request names ("" skips the per-phone limit)."""
    try:
        if request.mimetype == "application/json":
            data = request.get_json(silent=True)
            phone = data.get("phone") if isinstance(data, dict) else None
        else:
            phone = request.form.get("phone")
    except HTTPException:  # e.g. a body over MAX_CONTENT_LENGTH: the view answers 413
        return ""
    return "phone:" + phone.strip()[:20] if isinstance(phone, str) and phone.strip() else ""


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


def login_refused(response) -> bool:
    """Count only failures: the API answers 200 on success, the login pages redirect."""
    success = (200,) if request.path.startswith("/api/") else (301, 302, 303)
    return response.status_code not in success


def _config_limit(name: str):
    def provider() -> str:
        return current_app.config[name]

    provider.__name__ = f"limit_{name.lower()}"
    return provider


def _only(*endpoints):
    """exempt_when for a blueprint-wide limit that applies to a few endpoints."""
    wanted = frozenset(endpoints)

    def exempt() -> bool:
        return request.endpoint not in wanted

    return exempt


# The limits are module-level objects: Flask-Limiter keeps them per limiter, and
# every create_app (one per test) re-applies the same objects instead of piling up copies.
# Per-IP and per-phone failure budgets are shared (scope) by the login page and the API token route.
_login_failures = _config_limit("LOGIN_FAILURE_LIMIT")
LOGIN_PER_IP = limiter.shared_limit(_login_failures, scope="login-ip", key_func=client_ip, methods=["POST"],
                                    deduct_when=login_refused)
LOGIN_PER_PHONE = limiter.shared_limit(_login_failures, scope="login-phone", key_func=login_phone, methods=["POST"],
                                       deduct_when=login_refused)
REGISTER_PER_IP = limiter.shared_limit(_config_limit("REGISTER_LIMIT"), scope="register-ip", key_func=client_ip,
                                       methods=["POST"])

# Views without a limit decorator of their own get these through their blueprint.
ATTEMPT_STARTS = ("api.start", "citizen.start_quiz", "citizen.start_practice")
ANSWER_SAVES = ("api.save", "citizen.autosave", "citizen.save_form")
_BLUEPRINT_LIMITS = [
    limiter.shared_limit(_config_limit("ATTEMPT_START_LIMIT"), scope="attempt-start", key_func=citizen_key,
                         methods=["POST"], exempt_when=_only(*ATTEMPT_STARTS)),
    limiter.shared_limit(_config_limit("ANSWER_SAVE_LIMIT"), scope="answer-save", key_func=citizen_key,
                         methods=["POST", "PUT"], exempt_when=_only(*ANSWER_SAVES)),
]
TOTP_PER_USER = limiter.limit(_login_failures, key_func=citizen_key, methods=["POST"], deduct_when=login_refused)


# ---- wiring --------------------------------------------------------------------

def init_app(app) -> None:
    if app.config.get("PROXY_FIX_X_FOR"):
        # Behind nginx: take the client IP from X-Forwarded-For, trusting only that many proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"],
                                x_proto=app.config["PROXY_FIX_X_FOR"])
    app.before_request(deny_unmarked_views)
    app.after_request(security_headers)
    app.register_blueprint(bp)


def limit_blueprints(*blueprints) -> None:
    """The attempt-start and answer-save budgets on the blueprints whose views take them."""
    for blueprint in blueprints:
        for limit in _BLUEPRINT_LIMITS:
            limit(blueprint)


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
    return request.path.startswith(("/admin", "/login")) or current_user.is_authenticated


def security_headers(response):
    headers = response.headers
    csp = content_security_policy()
    headers.setdefault("Content-Security-Policy", csp)
    if "frame-ancestors 'none'" in csp:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if current_app.config.get("PREFERRED_URL_SCHEME") == "https" or request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
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


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after 2FA."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.dashboard")


@bp.route("/login/totp", methods=["GET", "POST"])
@citizen_login_required
@TOTP_PER_USER
def login_totp():
    user = current_user
    if user.role not in (ROLE_CITY, ROLE_DISTRICT):
        return redirect(url_for("citizen.index"))
    if totp_passed(user):
        return redirect(_safe_next(request.args.get("next")))
    form = TotpForm()
    error = None
    if not user.totp_secret:
        error = "此组织者账号尚未登记动态验证码，请联系系统管理员运行 flask admin totp --phone 手机号 登记。"
        return render_template("security/totp.html", form=form, error=error, enrolled=False), 403
    if form.validate_on_submit():
        if totp.verify(user.totp_secret, form.code.data, time.time()):
            mark_totp_passed(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "动态验证码不正确或已过期。"
    elif form.errors:
        error = next(iter(form.errors.values()))[0]
    return render_template("security/totp.html", form=form, error=error, enrolled=True), 200 if error is None else 401
