"""Phone codes (issue 15): code -> register -> code login, reset, wrong tries, daily limit.

End to end through HTTP, with a real local HTTP server as the SMS webhook receiver: it
checks each POST's signature and keeps the codes it received.
"""
import hashlib
import hmac
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import g
from sqlalchemy import select, text

from quiz import sms
from quiz.extensions import db
from quiz.models import PhoneCode, User

SECRET = "webhook-secret"
PHONE = "13912345678"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Receiver:
    """A city's SMS gateway: a real HTTP server on 127.0.0.1 that keeps what it was sent."""

    def __init__(self, keep_alive: bool = False):
        self.messages: list[dict] = []
        self.signatures_ok: list[bool] = []
        self.status = 200
        self.connections: list = []  # each TCP connection the app opened
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"  # 1.1: the connection stays open

            def setup(self):
                super().setup()
                receiver.connections.append(self.connection)

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                receiver.signatures_ok.append(hmac.compare_digest(expected, self.headers.get("X-Signature", "")))
                receiver.messages.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close_connections(self):
        """As a gateway does with connections idle too long."""
        for connection in self.connections:
            connection.shutdown(socket.SHUT_RDWR)

    def last_code(self, phone=PHONE) -> str:
        return [m for m in self.messages if m["phone"] == phone][-1]["code"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def verified(app_with, receiver, open_contest):
    """A client of an app with PHONE_VERIFICATION on and the webhook sender."""
    other = app_with(PHONE_VERIFICATION=True, SMS_PROVIDER="webhook", SMS_WEBHOOK_URL=receiver.url,
                     SMS_WEBHOOK_SECRET=SECRET)
    return other.test_client()


def ask_code(client, purpose, phone=PHONE):
    return client.post("/api/v1/auth/code", json={"phone": phone, "purpose": purpose})


def register(client, code, phone=PHONE, **extra):
    return client.post("/api/v1/auth/register", json={"phone": phone, "name": "张三", "district": "wujin",
                                                       "code": code, **extra})


def backdate_codes(minutes=2):
    """As if the codes were asked for earlier (the one-a-minute rule), in the real table."""
    db.session.execute(text("UPDATE phone_codes SET created_at = created_at - make_interval(mins => :m)"),
                       {"m": minutes})
    db.session.commit()


def test_code_register_without_password_then_code_login(verified, receiver):
    response = ask_code(verified, "register")
    assert response.status_code == 202
    assert response.get_json() == {"sent": True, "retry_after_s": 60}
    message = receiver.messages[-1]
    assert receiver.signatures_ok == [True]
    assert set(message) == {"phone", "code", "purpose", "text"}
    assert message["phone"] == PHONE and message["purpose"] == "register"
    assert re.fullmatch(r"[0-9]{6}", message["code"]) and message["code"] in message["text"]
    stored = db.session.scalars(select(PhoneCode)).one()
    assert message["code"] not in stored.code_hash and len(stored.code_hash) == 64

    missing = register(verified, None)
    assert missing.status_code == 422 and missing.get_json()["error"]["field"] == "code"
    wrong = register(verified, "000000" if message["code"] != "000000" else "111111")
    assert wrong.status_code == 422 and wrong.get_json()["error"]["field"] == "code"

    created = register(verified, message["code"])
    assert created.status_code == 201, created.get_json()
    user = db.session.scalar(select(User).where(User.phone == PHONE))
    assert user.password_hash is None
    # The code is used up; password login is refused without error for a code-only account.
    assert register(verified, message["code"], phone=PHONE).status_code == 422
    refused = verified.post("/api/v1/auth/token", json={"phone": PHONE, "password": "anything-at-all"})
    assert refused.status_code == 401

    backdate_codes()
    assert ask_code(verified, "login").status_code == 202
    login = verified.post("/api/v1/auth/token", json={"phone": PHONE, "code": receiver.last_code()})
    assert login.status_code == 200, login.get_json()
    token = login.get_json()["token"]
    assert verified.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = verified.post("/api/v1/auth/token", json={"phone": PHONE, "code": receiver.last_code()})
    assert again.status_code == 401 and again.get_json()["error"]["field"] == "code"


def test_reset_sets_the_password_and_ends_every_token(verified, receiver, citizens):
    citizens.make(phone=PHONE, password="old-password")
    old = verified.post("/api/v1/auth/token", json={"phone": PHONE, "password": "old-password"}).get_json()["token"]
    assert ask_code(verified, "reset").status_code == 202
    short = verified.post("/api/v1/auth/reset", json={"phone": PHONE, "code": receiver.last_code(), "password": "x"})
    assert short.status_code == 422 and short.get_json()["error"]["field"] == "password"
    done = verified.post("/api/v1/auth/reset",
                         json={"phone": PHONE, "code": receiver.last_code(), "password": "new-password"})
    assert done.status_code == 200, done.get_json()
    assert verified.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert verified.post("/api/v1/auth/token", json={"phone": PHONE, "password": "old-password"}).status_code == 401
    assert verified.post("/api/v1/auth/token", json={"phone": PHONE, "password": "new-password"}).status_code == 200


def test_five_wrong_codes_void_the_code(verified, receiver, citizens):
    citizens.make(phone=PHONE)
    assert ask_code(verified, "login").status_code == 202
    right = receiver.last_code()
    wrong = f"{(int(right) + 1) % 10 ** 6:06d}"
    for _ in range(5):
        answer = verified.post("/api/v1/auth/token", json={"phone": PHONE, "code": wrong})
        assert answer.status_code == 401 and answer.get_json()["error"]["field"] == "code"
    voided = verified.post("/api/v1/auth/token", json={"phone": PHONE, "code": right})
    assert voided.status_code == 401
    assert db.session.scalars(select(PhoneCode)).one().spent_at is not None


def test_one_code_a_minute_and_ten_a_day(verified, receiver):
    assert ask_code(verified, "register").status_code == 202
    soon = ask_code(verified, "register")
    assert soon.status_code == 429 and soon.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(soon.headers["Retry-After"]) <= 60
    for _ in range(9):
        backdate_codes()
        assert ask_code(verified, "login").status_code == 202
    backdate_codes()
    eleventh = ask_code(verified, "reset")
    assert eleventh.status_code == 429 and eleventh.get_json()["error"]["code"] == "rate_limited"
    assert int(eleventh.headers["Retry-After"]) > 3600
    assert len(receiver.messages) == 10
    # Another phone is not held back.
    assert ask_code(verified, "register", phone="13912345679").status_code == 202


def test_the_answer_is_the_same_for_a_registered_phone(verified, receiver, citizens):
    citizens.make(phone="13912345679")
    unknown, known = ask_code(verified, "login"), ask_code(verified, "login", phone="13912345679")
    assert (unknown.status_code, unknown.get_json()) == (known.status_code, known.get_json())


def test_codes_go_on_one_kept_connection_and_on_a_new_one_once_the_gateway_closed_it(app_with, open_contest):
    gateway = Receiver(keep_alive=True)
    try:
        client = app_with(PHONE_VERIFICATION=True, SMS_PROVIDER="webhook", SMS_WEBHOOK_URL=gateway.url,
                          SMS_WEBHOOK_SECRET=SECRET).test_client()
        for phone in ("13900000031", "13900000032", "13900000033"):
            assert ask_code(client, "register", phone).status_code == 202
        assert len(gateway.connections) == 1
        gateway.close_connections()
        assert ask_code(client, "register", "13900000034").status_code == 202
        assert [m["phone"] for m in gateway.messages] == ["13900000031", "13900000032", "13900000033", "13900000034"]
        assert len(gateway.connections) == 2 and all(gateway.signatures_ok)
    finally:
        sms.close_kept_connections()
        gateway.close()


def test_a_failed_delivery_is_503_and_stores_no_code(verified, receiver):
    receiver.status = 500
    failed = ask_code(verified, "register")
    assert failed.status_code == 503 and failed.get_json()["error"]["code"] == "unavailable"
    assert db.session.scalars(select(PhoneCode)).all() == []
    receiver.status = 200
    assert ask_code(verified, "register").status_code == 202  # nothing stored: no minute to wait


def test_bad_input_names_its_field(verified):
    assert ask_code(verified, "other").get_json()["error"]["field"] == "purpose"
    assert ask_code(verified, "register", phone="123").get_json()["error"]["field"] == "phone"
    assert verified.post("/api/v1/auth/code", json=[]).status_code == 422


def test_organizers_cannot_log_in_by_code(verified, receiver, runner):
    result = runner.invoke(args=["admin", "create", "--phone", PHONE, "--name", "管理员", "--role", "city"],
                           input="organizer-password\norganizer-password\n")
    assert result.exit_code == 0, result.output
    assert ask_code(verified, "login").status_code == 202
    refused = verified.post("/api/v1/auth/token", json={"phone": PHONE, "code": receiver.last_code()})
    assert refused.status_code == 401
    assert refused.get_json()["error"] == {"code": "unauthorized", "message": "组织者请使用密码登录。", "field": "code"}
    db.session.expire_all()
    assert db.session.scalar(select(PhoneCode.spent_at).where(PhoneCode.phone == PHONE)) is None  # left unused


def test_without_verification_registration_is_unchanged(client, open_contest):
    response = client.post("/api/v1/auth/register", json={"phone": PHONE, "name": "张三", "district": "wujin",
                                                           "password": "password123"})
    assert response.status_code == 201


# ---- the pages, without JavaScript ------------------------------------------------

def page_csrf(client, path) -> str:
    g.pop("csrf_token", None)
    match = CSRF_FIELD.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def test_the_register_page_in_two_steps_then_the_code_login_page(verified, receiver):
    csrf = page_csrf(verified, "/register")
    asked = verified.post("/register", data={"csrf_token": csrf, "phone": PHONE, "action": "send-code"})
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "验证码已发送" in page and 'name="code"' in page and PHONE in page
    form = {"csrf_token": page_csrf(verified, "/register"), "phone": PHONE, "name": "李四", "district": "wujin",
            "consent": "y", "code": "", "password": ""}
    missing = verified.post("/register", data=form)
    assert "验证码：" in missing.get_data(as_text=True)
    done = verified.post("/register", data={**form, "code": receiver.last_code()})
    assert done.status_code == 302, done.get_data(as_text=True)
    verified.post("/logout", data={"csrf_token": page_csrf(verified, "/")})

    backdate_codes()
    login_page = verified.get("/login").get_data(as_text=True)
    assert login_page.index("验证码登录") < login_page.index('id="login-form"')
    csrf = page_csrf(verified, "/login")
    sent = verified.post("/login/code", data={"csrf_token": csrf, "phone": PHONE, "action": "send-code"})
    assert "验证码已发送" in sent.get_data(as_text=True)
    logged = verified.post("/login/code", data={"csrf_token": page_csrf(verified, "/login"), "phone": PHONE,
                                                "code": receiver.last_code()})
    assert logged.status_code == 302
    assert verified.get("/me").status_code == 200


def test_the_reset_page(verified, receiver, citizens):
    citizens.make(phone=PHONE, password="old-password")
    assert "忘记密码" in verified.get("/login").get_data(as_text=True)
    csrf = page_csrf(verified, "/reset")
    sent = verified.post("/reset", data={"csrf_token": csrf, "phone": PHONE, "action": "send-code"})
    assert "验证码已发送" in sent.get_data(as_text=True)
    done = verified.post("/reset", data={"csrf_token": page_csrf(verified, "/reset"), "phone": PHONE,
                                         "code": receiver.last_code(), "password": "new-password"})
    assert done.status_code == 302
    assert verified.post("/api/v1/auth/token", json={"phone": PHONE, "password": "new-password"}).status_code == 200


def test_the_console_sender_shows_the_code_on_the_page_with_sms_show_code(app_with, open_contest):
    shown = app_with(PHONE_VERIFICATION=True, SMS_SHOW_CODE=True).test_client()
    csrf = page_csrf(shown, "/register")
    page = shown.post("/register", data={"csrf_token": csrf, "phone": PHONE, "action": "send-code"})
    stored = db.session.scalars(select(PhoneCode)).one()
    code = re.search(r'id="shown-code">([0-9]{6})<', page.get_data(as_text=True)).group(1)
    assert stored.code_hash != code


def test_the_countdown_buttons_request_answers_json(verified, receiver):
    page = verified.get("/register").get_data(as_text=True)
    assert 'class="button code-button"' in page and "code.js" in page
    csrf = page_csrf(verified, "/register")
    sent = verified.post("/code", data={"csrf_token": csrf, "phone": PHONE, "purpose": "register"})
    assert sent.status_code == 202
    assert sent.get_json()["sent"] is True and sent.get_json()["retry_after_s"] == 60
    assert "shown_code" not in sent.get_json()  # the webhook sender never shows the code
    again = verified.post("/code", data={"csrf_token": csrf, "phone": PHONE, "purpose": "register"})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) <= 60
    bad = verified.post("/code", data={"csrf_token": csrf, "phone": "12", "purpose": "register"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "phone"
    assert verified.post("/code", data={"phone": PHONE, "purpose": "login"}).status_code in (302, 400)
    assert len(receiver.messages) == 1


def test_a_wrong_code_on_the_login_page_is_named(verified, receiver, citizens):
    citizens.make(phone=PHONE)
    csrf = page_csrf(verified, "/login")
    verified.post("/login/code", data={"csrf_token": csrf, "phone": PHONE, "action": "send-code"})
    wrong = f"{(int(receiver.last_code()) + 1) % 10 ** 6:06d}"
    page = verified.post("/login/code", data={"csrf_token": page_csrf(verified, "/login"), "phone": PHONE,
                                              "code": wrong})
    assert page.status_code == 200 and 'id="code-login-error"' in page.get_data(as_text=True)
    assert verified.get("/me").status_code != 200


def test_a_second_code_within_the_minute_is_explained_on_the_page(verified, receiver):
    csrf = page_csrf(verified, "/reset")
    verified.post("/reset", data={"csrf_token": csrf, "phone": PHONE, "action": "send-code"})
    again = verified.post("/reset", data={"csrf_token": page_csrf(verified, "/reset"), "phone": PHONE,
                                          "action": "send-code"})
    assert again.status_code == 200 and "秒后再重新获取" in again.get_data(as_text=True)
    assert len(receiver.messages) == 1
