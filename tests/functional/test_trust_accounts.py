"""Issue 14, accounts, tokens and limits: one phone one account, tokens that remember what
they were issued under, no lockout of anyone, shared addresses, and the smaller holes."""
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask import g
from sqlalchemy import func, select, update

from quiz import totp
from quiz.accounts import create_organizer
from quiz.clock import utcnow
from quiz.extensions import db, limiter
from quiz.models import ApiToken, User

SECRET = "JBSWY3DPEHPK3PXP"
PASSWORD = "password123"


@pytest.fixture
def limited(app_with):
    """An app with the rate limits on (TestConfig turns them off) and CSRF off (it has its own tests)."""
    yield lambda **settings: app_with(RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=False, **settings)
    # The limiter is process-wide: close this app's storage for the next test.
    limiter.storage.storage.close()
    limiter._storage_dead = False


@pytest.fixture
def plain(app_with):
    """An app with CSRF off, limits off as in the test settings."""
    return app_with(WTF_CSRF_ENABLED=False)


def fresh_g():
    # The app fixture's context (and flask.g) outlives a request; in production each request has its own.
    for name in ("api_holder", "api_user", "csrf_token"):
        g.pop(name, None)


def from_ip(address):
    return {"REMOTE_ADDR": address}


def page_login(client, phone, password=PASSWORD, ip="10.0.0.1", **extra):
    return client.post("/login", data={"phone": phone, "password": password, **extra}, environ_base=from_ip(ip))


def token_of(client, phone, password=PASSWORD, **extra):
    response = client.post("/api/v1/auth/token", json={"phone": phone, "password": password, **extra})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def upload_as(client, token):
    """An organizer action: a (bad) bank upload. 401 = the token does not act as an organizer."""
    fresh_g()
    return client.post("/api/v1/admin/banks", data=b"title: x", content_type="application/x-yaml", headers=bearer(token))


def totp_organizer():
    """A city organizer enrolled in the second factor with SECRET."""
    organizer = create_organizer(db.session, "13800000001", "组织者", PASSWORD, "city", None, utcnow())
    organizer.totp_secret = SECRET
    db.session.commit()
    return organizer


def wrong_code() -> str:
    now = time.time()
    right = {totp.code_at(SECRET, now + step * totp.STEP_S) for step in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in right)


def register_json(phone, name="市民"):
    return {"phone": phone, "name": name, "district": "wujin", "password": PASSWORD}


# ---- 3: one phone, one account -------------------------------------------------------

def test_phones_with_non_ascii_digits_are_refused_beside_the_ascii_one(plain, open_contest):
    client = plain.test_client()
    assert client.post("/api/v1/auth/register", json=register_json("13900000001")).status_code == 201
    for lookalike in ("139０0000001", "139٠0000001"):  # a full-width zero, an Arabic-Indic zero
        response = client.post("/api/v1/auth/register", json=register_json(lookalike))
        assert response.status_code == 422, lookalike
        assert response.get_json()["error"]["code"] == "invalid" and response.get_json()["error"]["field"] == "phone"
        page = client.post("/register", data={**register_json(lookalike), "consent": "y"})
        assert page.status_code == 200 and 'id="phone-error"' in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    # Spaces, dashes and +86 are fine, and name the same stored number everywhere.
    spaced = client.post("/api/v1/auth/register", json=register_json("+86 139-0000-0002"))
    assert spaced.status_code == 201
    assert client.post("/api/v1/auth/register", json=register_json("8613900000002")).status_code == 409
    assert token_of(client, "13900000002") and token_of(client, "139 0000 0002")
    refused = client.post("/api/v1/auth/token", json={"phone": "139０0000001", "password": PASSWORD})
    assert refused.status_code == 401


# ---- 6: tokens outlive the account's change -------------------------------------------

def test_admin_create_on_a_citizens_phone_needs_promote_and_ends_the_tokens(app, plain, citizens, open_contest):
    citizen = citizens.make()
    client = plain.test_client()
    token = token_of(client, citizen.phone)
    page = plain.test_client()
    assert page_login(page, citizen.phone).status_code == 302
    runner = app.test_cli_runner()
    args = ["admin", "create", "--phone", citizen.phone, "--name", "组织者", "--role", "city"]

    refused = runner.invoke(args=args, input="new-password-1\n")
    assert refused.exit_code != 0 and "--promote" in refused.output
    db.session.expire_all()
    assert db.session.get(User, citizen.id).role == "citizen"
    fresh_g()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200  # nothing changed

    promoted = runner.invoke(args=[*args, "--promote"], input="new-password-1\n")
    assert promoted.exit_code == 0, promoted.output
    db.session.expire_all()
    assert db.session.get(User, citizen.id).role == "city"
    assert upload_as(client, token).status_code == 401  # the citizen's token is gone...
    fresh_g()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    fresh_g()
    assert page.get("/me").status_code == 302  # ...and so is the citizen's session

    # A password reset of an organizer ends its tokens too.
    organizer_token = token_of(client, citizen.phone, "new-password-1")
    assert upload_as(client, organizer_token).status_code == 422  # acts as the organizer (a bad bank)
    assert runner.invoke(args=args, input="new-password-2\n").exit_code == 0
    assert upload_as(client, organizer_token).status_code == 401


def test_a_token_never_acts_with_a_role_it_was_not_issued_under(plain, citizens):
    citizen = citizens.make()
    client = plain.test_client()
    token = token_of(client, citizen.phone)
    # However the role changed, the citizen's token does not become an organizer's.
    db.session.execute(update(User).where(User.id == citizen.id).values(role="city"))
    db.session.commit()
    assert upload_as(client, token).status_code == 401
    assert upload_as(client, token_of(client, citizen.phone)).status_code == 422  # a new token does


def test_an_organizer_token_issued_without_totp_does_not_act_once_totp_is_required(plain, app_with):
    organizer = totp_organizer()
    without = token_of(plain.test_client(), organizer.phone)  # ADMIN_REQUIRE_TOTP off
    strict = app_with(ADMIN_REQUIRE_TOTP=True).test_client()
    assert upload_as(strict, without).status_code == 401
    with_code = token_of(strict, organizer.phone, totp=totp.code_at(SECRET, time.time()))
    assert upload_as(strict, with_code).status_code == 422


def test_delete_token_revokes_the_callers_own_token(plain, citizens, open_contest):
    citizen = citizens.make()
    client = plain.test_client()
    first, second = token_of(client, citizen.phone), token_of(client, citizen.phone)
    fresh_g()
    response = client.delete("/api/v1/auth/token", headers=bearer(first))
    assert response.status_code == 204 and response.get_data() == b""
    fresh_g()
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    fresh_g()
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    fresh_g()
    again = client.delete("/api/v1/auth/token", headers=bearer(first))
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "unauthorized"


# ---- 9: lockout of anyone ----------------------------------------------------------------

def test_a_wrong_password_streak_from_one_address_does_not_lock_out_another(limited, citizens):
    citizen = citizens.make()
    client = limited().test_client()
    for _ in range(10):
        assert page_login(client, citizen.phone, "wrong-password", ip="10.6.6.6").status_code == 200
    assert page_login(client, citizen.phone, ip="10.6.6.6").status_code == 429  # the guesser's address is stopped
    assert page_login(client, citizen.phone, ip="10.0.0.2").status_code == 302  # the owner elsewhere is not
    fresh_g()
    api = client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": PASSWORD},
                      environ_base=from_ip("10.0.0.3"))
    assert api.status_code == 200


def test_one_address_holds_a_school_whose_citizens_mistype(limited, citizens):
    app = limited()
    for _ in range(40):
        citizen = citizens.make()
        client = app.test_client()  # each citizen's own phone, all behind the school's address
        for _ in range(2):
            assert page_login(client, citizen.phone, "typo-typo").status_code == 200
        assert page_login(client, citizen.phone).status_code == 302, citizen.phone


# ---- 10: shared addresses -----------------------------------------------------------------

@pytest.mark.slow  # 1,800 requests, ~25 s: the limiter counts requests, so no waiting for the hour
def test_300_citizens_register_and_answer_from_one_address(limited, open_contest):
    client = limited().test_client()
    for n in range(300):
        phone = f"1370000{n:04d}"
        register = client.post("/api/v1/auth/register", json=register_json(phone), environ_base=from_ip("10.8.8.8"))
        assert register.status_code == 201, (n, register.get_json())
        fresh_g()
        token = client.post("/api/v1/auth/token", json={"phone": phone, "password": PASSWORD},
                            environ_base=from_ip("10.8.8.8"))
        assert token.status_code == 200, (n, token.get_json())
        headers = bearer(token.get_json()["token"])
        fresh_g()
        started = client.post("/api/v1/attempts", headers=headers, environ_base=from_ip("10.8.8.8"))
        assert started.status_code == 201, (n, started.get_json())
        attempt = started.get_json()["attempt"]
        for question in attempt["questions"][:3]:
            fresh_g()
            saved = client.put(f"/api/v1/attempts/{attempt['id']}/answers/{question['id']}", headers=headers,
                               json={"choices": [question["options"][0]["key"]]}, environ_base=from_ip("10.8.8.8"))
            assert saved.status_code == 200, (n, saved.get_json())


# ---- the smaller holes ----------------------------------------------------------------------

def test_next_with_a_control_character_never_leaves_the_site(app_with, citizens):
    strict = app_with(ADMIN_REQUIRE_TOTP=True, WTF_CSRF_ENABLED=False)
    organizer = totp_organizer()
    client = strict.test_client()
    assert page_login(client, organizer.phone).status_code == 302
    for target in ("/%09/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example", "//evil.example", "/%5Cevil.example"):
        fresh_g()
        response = client.post(f"/login/totp?next={target}", data={"code": totp.code_at(SECRET, time.time())})
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert not location.netloc and location.path == "/admin", (target, response.headers["Location"])
    citizen = citizens.make()
    other = strict.test_client()
    response = other.post("/login?next=/%09/evil.example", data={"phone": citizen.phone, "password": PASSWORD})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/"
    fresh_g()
    assert urlsplit(other.get("/text-size?size=large&next=/%09/evil.example").headers["Location"]).path == "/"
    fresh_g()
    assert other.get("/text-size?size=large&next=/me").headers["Location"].endswith("/me")


def test_a_full_width_totp_code_is_refused_not_a_500(app_with):
    strict = app_with(ADMIN_REQUIRE_TOTP=True, WTF_CSRF_ENABLED=False)
    organizer = totp_organizer()
    client = strict.test_client()
    assert page_login(client, organizer.phone).status_code == 302
    page = client.post("/login/totp", data={"code": "１２３４５６"})
    assert page.status_code == 401 and "动态验证码不正确" in page.get_data(as_text=True)
    fresh_g()
    api = client.post("/api/v1/auth/token", json={"phone": organizer.phone, "password": PASSWORD, "totp": "１２３４５６"})
    assert api.status_code == 401 and api.get_json()["error"]["field"] == "totp"


def test_one_totp_failure_budget_for_the_page_and_the_api(limited):
    app = limited(ADMIN_REQUIRE_TOTP=True)
    organizer = totp_organizer()
    client = app.test_client()
    assert page_login(client, organizer.phone).status_code == 302
    for _ in range(5):
        fresh_g()
        assert client.post("/login/totp", data={"code": wrong_code()}).status_code == 401
        fresh_g()
        api = client.post("/api/v1/auth/token", json={"phone": organizer.phone, "password": PASSWORD, "totp": wrong_code()})
        assert api.status_code == 401
    fresh_g()
    assert client.post("/login/totp", data={"code": totp.code_at(SECRET, time.time())}).status_code == 429
    fresh_g()
    api = client.post("/api/v1/auth/token", json={"phone": organizer.phone, "password": PASSWORD,
                                                  "totp": totp.code_at(SECRET, time.time())})
    assert api.status_code == 429


def test_expired_tokens_are_purged_when_a_token_is_issued(plain, citizens):
    citizen = citizens.make()
    now = utcnow()
    db.session.add_all([ApiToken(user_id=citizen.id, token_hash=f"{n:064d}", expires_at=now - timedelta(days=n + 1),
                                 created_at=now - timedelta(days=8 + n)) for n in range(3)])
    db.session.commit()
    token_of(plain.test_client(), citizen.phone)
    expires = db.session.scalars(select(ApiToken.expires_at)).all()
    assert len(expires) == 1 and expires[0] > now


def test_successful_logins_are_limited_too(limited, citizens):
    citizen = citizens.make()
    client = limited().test_client()
    for _ in range(30):
        fresh_g()
        assert client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": PASSWORD}).status_code == 200
    fresh_g()
    response = client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": PASSWORD})
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "rate_limited"
    assert page_login(client, citizens.make().phone).status_code == 302  # another citizen at the same address


def test_a_request_that_checks_no_password_spends_no_login(limited, citizens):
    """The address's password checks are counted with the limit check, as if the login went
    through, and taken back when no password was checked (a body that is not a JSON object)."""
    client = limited(LOGIN_ADDRESS_LIMIT="3 per hour").test_client()
    for _ in range(5):
        response = client.post("/api/v1/auth/token", json=["not", "an", "object"], environ_base=from_ip("10.0.0.7"))
        assert response.status_code == 422
    for _ in range(3):
        response = client.post("/api/v1/auth/token", json={"phone": citizens.make().phone, "password": PASSWORD},
                               environ_base=from_ip("10.0.0.7"))
        assert response.status_code == 200
    response = client.post("/api/v1/auth/token", json={"phone": citizens.make().phone, "password": PASSWORD},
                           environ_base=from_ip("10.0.0.7"))
    assert response.status_code == 429


def test_a_guesser_refused_at_their_address_spends_none_of_the_owners_logins(limited, citizens):
    """Refused requests (429) take back what they were counted for a success: a guesser who
    spent their address's failures on a phone, and goes on, leaves its owner every login."""
    citizen = citizens.make()
    client = limited(LOGIN_FAILURE_LIMIT="2 per 5 minutes", LOGIN_SUCCESS_LIMIT="3 per hour").test_client()

    def login(password, ip):
        return client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": password},
                           environ_base=from_ip(ip)).status_code

    assert [login("wrong-password", "10.0.0.66") for _ in range(2)] == [401, 401]
    assert [login(PASSWORD, "10.0.0.66") for _ in range(5)] == [429] * 5
    assert [login(PASSWORD, "10.0.0.1") for _ in range(4)] == [200, 200, 200, 429]


def test_an_organizers_remember_me_lasts_at_most_30_days(plain, citizens):
    organizer = create_organizer(db.session, "13800000001", "组织者", PASSWORD, "city", None, utcnow())
    citizen = citizens.make()

    def remembered_for(phone) -> timedelta:
        client = plain.test_client()
        assert page_login(client, phone, remember="y").status_code == 302
        expires = client.get_cookie("remember_token").expires
        return expires.replace(tzinfo=expires.tzinfo or UTC) - datetime.now(UTC)

    assert timedelta(days=29) < remembered_for(organizer.phone) <= timedelta(days=30, minutes=1)
    assert remembered_for(citizen.phone) > timedelta(days=300)  # citizens keep Flask-Login's year
