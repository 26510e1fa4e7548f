"""Sessions, cookies, CSRF and password storage, through the real pages."""
import re

import pytest
from flask import g

from quiz import config as quiz_config
from quiz import create_app
from quiz.db.session import dispose_engines
from quiz.extensions import db
from quiz.models import User

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path="/login", **kw) -> str:
    # The app fixture keeps one app context (and so one flask.g) across requests; in production each
    # request has its own. Drop Flask-WTF's copy so the token comes from this client's session.
    g.pop("csrf_token", None)
    match = CSRF_FIELD.search(client.get(path, **kw).get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def login(client, phone, password="password123", remember=False, **kw):
    data = {"phone": phone, "password": password, "csrf_token": csrf_token(client, **kw)}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data, **kw)


def logout(client):
    return client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def logged_in(client) -> bool:
    g.pop("csrf_token", None)
    return client.get("/me").status_code == 200


def test_login_starts_a_fresh_session(client, citizens):
    citizen = citizens.make()
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
        before = dict(session)
    assert login(client, citizen.phone).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != before.get("csrf_token")
        assert session["_user_id"] == citizen.get_id()


def test_logout_kills_a_copied_session_cookie(app, client, citizens):
    citizen = citizens.make()
    login(client, citizen.phone)
    stolen = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert logged_in(thief)

    assert logout(client).status_code == 302
    assert not logged_in(client)
    assert not logged_in(thief)  # the copy names the old session version


def test_remember_me_cookie_is_revoked_by_logout(app, client, citizens):
    citizen = citizens.make()
    login(client, citizen.phone, remember=True)
    remembered = client.get_cookie("remember_token")
    assert remembered is not None and remembered.http_only
    other_device = app.test_client()
    other_device.set_cookie("remember_token", remembered.value)
    assert logged_in(other_device)  # the cookie alone logs in...

    logout(client)
    stale_device = app.test_client()
    stale_device.set_cookie("remember_token", remembered.value)
    assert not logged_in(stale_device)  # ...until the citizen logs out anywhere


def test_session_cookie_flags(client, citizens):
    citizen = citizens.make()
    response = login(client, citizen.phone, remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # plain http in the quickstart: a Secure cookie would never come back


@pytest.fixture
def https_app(monkeypatch, service_urls, app):
    monkeypatch.setenv("PREFERRED_URL_SCHEME", "https")
    database_url, redis_url, workdir = service_urls
    https = create_app(quiz_config.TestConfig(str(workdir / "instance"), database_url, redis_url))
    yield https
    with https.app_context():
        dispose_engines()


def test_cookies_are_secure_behind_https(https_app, citizens):
    citizen = citizens.make()
    client = https_app.test_client()
    response = login(client, citizen.phone, remember=True, base_url="https://localhost",
                     headers={"Referer": "https://localhost/login"})  # Flask-WTF checks the referrer over https
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    for name in ("session=", "remember_token="):
        cookie = next(c for c in cookies if c.startswith(name))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_passwords_are_stored_as_scrypt_hashes(citizens):
    citizen = citizens.make(password="a long passphrase")
    stored = db.session.get(User, citizen.id).password_hash
    assert stored.startswith("scrypt:")
    assert "a long passphrase" not in stored


def test_login_form_without_csrf_token_is_refused(client, citizens):
    citizen = citizens.make()
    client.post("/login", data={"phone": citizen.phone, "password": "password123"})
    assert not logged_in(client)


def test_forms_carry_a_csrf_token(client, citizens, open_contest):
    for path in ("/login", "/register"):
        assert CSRF_FIELD.search(client.get(path).get_data(as_text=True)), path
    login(client, citizens.make().phone)
    assert CSRF_FIELD.search(client.get("/").get_data(as_text=True))  # start quiz and log out forms


def test_autosave_needs_the_csrf_header(client, citizens, open_contest):
    login(client, citizens.make().phone)
    start = client.post("/quiz/start", data={"csrf_token": csrf_token(client, "/")})
    assert start.status_code == 302
    page = client.get("/quiz").get_data(as_text=True)
    attempt_id = int(re.search(r'action="/quiz/(\d+)/answers"', page).group(1))
    qid, choice = re.search(r'name="q-([^"]+)" value="([^"]+)"', page).groups()
    token = CSRF_FIELD.search(page).group(1)

    refused = client.post(f"/quiz/{attempt_id}/answer", json={"qid": qid, "choices": [choice]})
    assert refused.status_code == 400
    saved = client.post(f"/quiz/{attempt_id}/answer", json={"qid": qid, "choices": [choice]},
                        headers={"X-CSRFToken": token})
    assert saved.status_code == 200 and saved.get_json() == {"saved": True}


def test_the_api_ignores_cookie_sessions(client, citizens, open_contest):
    login(client, citizens.make().phone)
    assert logged_in(client)
    for response in (client.post("/api/v1/attempts"), client.get("/api/v1/me")):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
