"""Response headers, request size limits, hostile YAML and hostile names."""
import re
from pathlib import Path

import pytest
from conftest import DURING
from test_security_sessions import login

from quiz.accounts import create_organizer
from quiz.extensions import db

TEMPLATES = Path(__file__).resolve().parents[2] / "quiz" / "templates"


def test_every_page_sends_the_security_headers(client, open_contest):
    for path in ("/", "/login", "/register", "/healthz", "/api/v1/contest", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp and headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert "Strict-Transport-Security" not in headers, path  # plain http: HSTS would be ignored anyway
        assert not re.search(r"\d", headers.get("Server", "")), path  # no version banner


def test_templates_need_no_inline_script_or_style():
    """CSP forbids inline code, so a page that relied on it would silently break."""
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert not re.search(r"<style|\sstyle\s*=", text), template


@pytest.fixture
def framed_app(app_with):
    return app_with(DISPLAY_FRAME_ANCESTORS="https://screens.example.cn")


def test_only_display_pages_may_be_framed_by_the_configured_origins(framed_app, open_contest):
    client = framed_app.test_client()
    display = client.get("/display")
    assert display.status_code == 200
    assert "frame-ancestors https://screens.example.cn" in display.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in display.headers
    assert "frame-ancestors 'none'" in client.get("/").headers["Content-Security-Policy"]


def test_display_pages_refuse_framing_by_default(client, open_contest):
    assert "frame-ancestors 'none'" in client.get("/display").headers["Content-Security-Policy"]


def test_authenticated_and_token_responses_are_not_cached(client, api, citizens, open_contest):
    citizen = citizens.make()
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    token = client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": "password123"})
    assert token.headers["Cache-Control"] == "no-store"
    assert api.login(citizen.phone).get("/api/v1/me").headers["Cache-Control"] == "no-store"
    login(client, citizen.phone)
    for path in ("/", "/me"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


# ---- request size and hostile uploads ------------------------------------------------

@pytest.fixture
def city_api(api):
    create_organizer(db.session, "13800000009", "市管理员", "password123", "city", None, DURING)
    return api.login("13800000009")


def test_oversized_api_upload_gets_413_json(city_api):
    response = city_api.post("/api/v1/admin/banks", data=b"a" * (7 * 1024 * 1024),
                             content_type="application/x-yaml")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_oversized_form_post_gets_413_page(client):
    response = client.post("/login", data={"phone": "13900000000", "password": "x" * (7 * 1024 * 1024)})
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "上传的内容太大" in body and "Traceback" not in body


def test_deeply_nested_yaml_is_refused_with_422(city_api):
    nested = b"[" * 10_000 + b"]" * 10_000
    response = city_api.post("/api/v1/admin/banks", data=nested,
                             content_type="application/x-yaml")
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_alias_bomb_is_refused_with_422(city_api):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    response = city_api.post("/api/v1/admin/banks", data="\n".join(lines).encode(),
                             content_type="application/x-yaml")
    assert response.status_code == 422
    assert response.get_json()["errors"]


# ---- hostile names -------------------------------------------------------------------

HOSTILE_NAMES = ("<script>x</script>", '=HYPERLINK("x","y")')


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_render_as_text(client, api, citizens, open_contest, name):
    citizen = citizens.make(name=name)
    session = api.login(citizen.phone)
    attempt = session.post("/api/v1/attempts").get_json()["attempt"]
    assert session.post(f"/api/v1/attempts/{attempt['id']}/submit").status_code == 200

    board = client.get("/display").get_data(as_text=True)
    assert "<script>x" not in board and "*</script>" not in board
    if name.startswith("<"):
        assert "&lt;****************&gt;" in board  # the masked name, escaped

    login(client, citizen.phone)
    me = client.get("/me").get_data(as_text=True)
    assert "<script>x</script>" not in me
    assert ("&lt;script&gt;x&lt;/script&gt;" if name.startswith("<") else "=HYPERLINK(&#34;x&#34;,&#34;y&#34;)") in me


def test_nul_bytes_and_lone_surrogates_are_invalid_input_not_errors(client, citizens, open_contest):
    """PostgreSQL refuses NUL in text and UTF-8 cannot encode lone surrogates: both must be a 4xx."""
    citizen = citizens.make()
    for body in ('{"phone": "\\u0000[", "password": "password123"}',
                 '{"phone": "' + citizen.phone + '", "password": "pass\\ud800word"}'):
        response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
        assert response.status_code == 401, body
    for field, value in (("name", "张\\u0000三"), ("unit", "学校\\ud800"), ("password", "password\\udfff1")):
        fields = {"phone": "13700001111", "name": "张三", "district": "wujin", "password": "password123", field: value}
        body = "{" + ", ".join(f'"{k}": "{v}"' for k, v in fields.items()) + "}"
        response = client.post("/api/v1/auth/register", data=body, content_type="application/json")
        assert response.status_code == 422 and response.get_json()["error"]["field"] == field, body
