"""Error pages and JSON errors: a clear message, never a stack trace."""
import logging
import time
import traceback

from flask import jsonify, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError
from werkzeug.exceptions import HTTPException

from quiz.extensions import db, limiter
from quiz.passwords import HashingBusy

log = logging.getLogger(__name__)

CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
         500: "internal", 503: "unavailable"}
MESSAGES = {400: "请求有误。", 401: "请先登录。", 403: "没有权限访问此页面。", 404: "页面不存在。",
            405: "不支持此操作。", 413: "上传的内容太大。", 429: "操作太频繁，请稍后再试。",
            500: "服务器出了点问题，请稍后再试。", 503: "服务暂时不可用，请稍后再试。"}


def json_error(status: int, code: str, message: str, **extra):
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _limit_retry_after() -> int:
    """Seconds until the breached rate limit's window resets (its whole window when the
    limiter's storage can't say). Read only for a 429: the X-RateLimit-* headers on every
    limited response cost two more Redis round trips each, so they are off by default."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    try:
        return max(1, int(breached.reset_at - time.time()))
    except Exception:  # noqa: BLE001 - storage away: the limiter fell back to memory
        return max(1, int(breached.limit.get_expiry()))


def retry_after_s(exc: HTTPException) -> int:
    """Seconds a 429's sender should wait: the exception's own Retry-After, else the breached limit's."""
    given = exc.get_response().headers.get("Retry-After") or getattr(exc, "retry_after", None)
    try:
        return max(1, int(given)) if given else _limit_retry_after()
    except (TypeError, ValueError):
        return _limit_retry_after()


def wait_text(seconds: int) -> str:
    """How long to wait, as a citizen reads it: 45 -> "45 秒", 61 -> "2 分钟", 3600 -> "60 分钟"."""
    return f"{seconds} 秒" if seconds < 60 else f"{-(-seconds // 60)} 分钟"


def database_error(exc: StatementError, connection: bool = False) -> str:
    """What a log may say of a failed statement: its kind, SQLSTATE, the constraint, table and
    column PostgreSQL names, and the statement, but neither its parameters nor the server's
    message, which quotes values ("Key (phone)=(13800000000) already exists", "value
    "13800000000" is out of range") from phones, names and password hashes. `connection`:
    a lost or refused connection, whose first message line (no values) is kept."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    named = [f"{field}={value}" for field in ("constraint_name", "table_name", "column_name")
             if diag is not None and (value := getattr(diag, field, None))]
    parts = [type(exc).__name__ + (f"({type(orig).__name__})" if orig is not None else ""),
             f"sqlstate={getattr(orig, 'sqlstate', None) or '?'}", *named]
    if connection:
        return " ".join([*parts, str(orig).strip().split("\n", 1)[0] if orig is not None else ""]).rstrip()
    frames = "".join(traceback.format_tb(exc.__traceback__))  # where it failed: code lines, no values
    return " ".join(parts) + f"\n[SQL: {exc.statement}]\n{frames}".rstrip()


def init_app(app) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        message = MESSAGES.get(status, exc.description or "")
        retry = retry_after_s(exc) if status == 429 else None
        if wants_json():
            response = json_error(status, CODES.get(status, "error"), message)
        else:
            response = app.make_response((render_template("errors/error.html", status=status, message=message,
                                                          wait=wait_text(retry) if retry else None), status))
        if retry:
            response.headers["Retry-After"] = str(retry)
        return response

    @app.errorhandler(HashingBusy)
    def hashing_busy(exc: HashingBusy):
        # Every password-hashing slot of this worker stayed taken (quiz/passwords.py): come back shortly.
        if wants_json():
            response = json_error(503, "busy", str(exc))
        else:
            response = app.make_response((render_template("errors/error.html", status=503, message=str(exc),
                                                          wait=wait_text(exc.retry_after_s)), 503))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        if isinstance(exc, (OperationalError, InterfaceError)):
            # The database went away (restart, failover): nothing was committed; try again shortly.
            log.warning("database unavailable on %s %s: %s", request.method, request.path,
                        database_error(exc, connection=True))
            try:
                db.session.rollback()
            except Exception:  # the connection may be gone too; the pool replaces it
                log.debug("rollback after database error failed", exc_info=True)
            if wants_json():
                return json_error(503, "unavailable", MESSAGES[503])
            return render_template("errors/error.html", status=503, message=MESSAGES[503]), 503
        if isinstance(exc, StatementError):  # never the traceback's message: it quotes the values
            log.error("unhandled database error on %s %s: %s", request.method, request.path, database_error(exc))
        else:
            log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, "internal", MESSAGES[500])
        return render_template("errors/error.html", status=500, message=MESSAGES[500]), 500
