"""Organizers' second factor (RFC 6238 TOTP) when ADMIN_REQUIRE_TOTP is on."""
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import DURING
from test_security_sessions import csrf_token, login

from quiz import totp
from quiz.accounts import create_organizer
from quiz.extensions import db

# RFC 6238 appendix B, SHA-1 column, secret "12345678901234567890" (last 6 of the 8 digits).
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RFC_VECTORS = {59: "287082", 1111111109: "081804", 1111111111: "050471", 1234567890: "005924",
               2000000000: "279037", 20000000000: "353130"}


@pytest.mark.parametrize("unix_time, code", sorted(RFC_VECTORS.items()))
def test_codes_match_rfc_6238(unix_time, code):
    assert totp.code_at(RFC_SECRET, unix_time) == code


def test_verify_allows_one_step_of_clock_drift_only():
    now = 1_700_000_000
    assert totp.verify(RFC_SECRET, totp.code_at(RFC_SECRET, now - 30), now)
    assert not totp.verify(RFC_SECRET, totp.code_at(RFC_SECRET, now - 90), now)
    assert not totp.verify(RFC_SECRET, "12345", now) and not totp.verify(RFC_SECRET, None, now)


@pytest.fixture
def totp_app(app_with):
    return app_with(ADMIN_REQUIRE_TOTP=True)


@pytest.fixture
def organizer(app):
    return create_organizer(db.session, "13800000001", "组织者", "password123", "city", None, DURING)


def enrol(app, phone) -> str:
    result = app.test_cli_runner().invoke(args=["admin", "totp", "--phone", phone])
    assert result.exit_code == 0, result.output
    uri = result.output.strip()
    assert uri.startswith("otpauth://totp/")
    return parse_qs(urlsplit(uri).query)["secret"][0]


def test_admin_needs_the_second_factor(totp_app, organizer):
    secret = enrol(totp_app, organizer.phone)
    client = totp_app.test_client()
    assert login(client, organizer.phone).status_code == 302
    response = client.get("/admin")
    assert response.status_code == 302 and "/login/totp" in response.headers["Location"]

    token = csrf_token(client, "/login/totp")
    wrong = client.post("/login/totp", data={"code": "000000" if totp.code_at(secret, time.time()) != "000000"
                                             else "111111", "csrf_token": token})
    assert wrong.status_code == 401 and "动态验证码不正确" in wrong.get_data(as_text=True)
    assert client.get("/admin").status_code == 302

    right = client.post("/login/totp?next=/admin", data={"code": totp.code_at(secret, time.time()), "csrf_token": token})
    assert right.status_code == 302 and right.headers["Location"].endswith("/admin")
    assert client.get("/admin").status_code == 200


def test_second_factor_does_not_outlive_the_session(totp_app, organizer):
    secret = enrol(totp_app, organizer.phone)
    client = totp_app.test_client()
    login(client, organizer.phone)
    client.post("/login/totp", data={"code": totp.code_at(secret, time.time()), "csrf_token": csrf_token(client, "/login/totp")})
    assert client.get("/admin").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, organizer.phone)
    assert client.get("/admin").status_code == 302  # a new login asks for a new code


def test_organizer_without_enrolment_is_told_what_to_do(totp_app, organizer):
    client = totp_app.test_client()
    login(client, organizer.phone)
    response = client.get("/login/totp")
    assert response.status_code == 403
    assert "flask admin totp" in response.get_data(as_text=True)
    assert client.get("/admin").status_code == 302


def test_off_by_default(client, organizer):
    login(client, organizer.phone)
    assert client.get("/admin").status_code == 200


def test_api_tokens_for_organizers_need_the_code(totp_app, organizer, citizens):
    secret = enrol(totp_app, organizer.phone)
    client = totp_app.test_client()
    refused = client.post("/api/v1/auth/token", json={"phone": organizer.phone, "password": "password123"})
    assert refused.status_code == 401 and refused.get_json()["error"]["field"] == "totp"
    granted = client.post("/api/v1/auth/token", json={"phone": organizer.phone, "password": "password123",
                                                      "totp": totp.code_at(secret, time.time())})
    assert granted.status_code == 200
    citizen = citizens.make()
    assert client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": "password123"}).status_code == 200


def test_enrolment_refuses_citizens(totp_app, citizens):
    result = totp_app.test_cli_runner().invoke(args=["admin", "totp", "--phone", citizens.make().phone])
    assert result.exit_code != 0 and re.search("没有手机号为 .* 的组织者", result.output)
