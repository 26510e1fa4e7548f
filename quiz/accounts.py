"""Citizens and organizers: registration, passwords, API tokens, name masking."""
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from quiz.db import direct
from quiz.models import ROLE_CITIZEN, ROLE_CITY, ROLE_DISTRICT, ApiToken, User

PHONE = re.compile(r"^1[3-9]\d{9}$")
GROUPS = ("青少年", "农民", "产业工人", "老年人", "领导干部和公务员", "其他")
MIN_PASSWORD = 8
# A hash to check against when the phone is unknown, so timing does not reveal registration.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class AccountError(Exception):
    def __init__(self, field: str, message: str, code: str = "invalid"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


def mask_name(name: str) -> str:
    """张三丰 -> 张*丰, 李四 -> 李*, 王 -> 王*: what others may see of a citizen."""
    name = (name or "").strip()
    if len(name) <= 2:
        return name[:1] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "*" * len(phone)


def hash_password(password: str) -> str:
    """A salted scrypt hash (the test settings lower its cost to keep the suite fast)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


_SURROGATES = re.compile("[\ud800-\udfff]")
_SURROGATES_OR_CONTROLS = re.compile("[\ud800-\udfff\x00-\x1f\x7f-\x9f]")  # Unicode's Cs, and Cs + Cc


def storable(text: str, controls: bool = False) -> bool:
    """PostgreSQL refuses NUL and UTF-8 refuses lone surrogates: such input is invalid, never a 500."""
    return not (_SURROGATES if controls else _SURROGATES_OR_CONTROLS).search(text)


def check_fields(phone, name, district, password, group, unit, districts: set[str]) -> None:
    """Raise AccountError naming the first field that is wrong."""
    if not isinstance(phone, str) or not PHONE.fullmatch(phone):
        raise AccountError("phone", "请输入 11 位中国大陆手机号码。")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 20 or not storable(name):
        raise AccountError("name", "姓名为 1 到 20 个字符。")
    if district not in districts:
        raise AccountError("district", "请选择所在区县。")
    if group not in (None, "", *GROUPS):
        raise AccountError("group", "请选择列表中的人群。")
    if unit is not None and (not isinstance(unit, str) or len(unit) > 100 or not storable(unit)):
        raise AccountError("unit", "工作单位或学校最多 100 个字符。")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or not storable(password, controls=True):
        raise AccountError("password", f"密码至少 {MIN_PASSWORD} 个字符。")


def register_citizen(session, phone, name, district, password, group, unit, districts: set[str], now: datetime) -> User:
    check_fields(phone, name, district, password, group, unit, districts)
    user = User(phone=phone, name=name.strip(), district=district, group=group or None,
                unit=(unit or "").strip() or None, password_hash=hash_password(password),
                role=ROLE_CITIZEN, session_version=1, created_at=now)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountError("phone", "该手机号已注册，请直接登录。", code="phone_taken") from None
    return user


def create_organizer(session, phone, name, password, role: str, district: str | None, now: datetime) -> User:
    if role not in (ROLE_CITY, ROLE_DISTRICT):
        raise AccountError("role", "role must be city or district")
    if role == ROLE_DISTRICT and not district:
        raise AccountError("district", "a district organizer needs --district")
    if not isinstance(phone, str) or not PHONE.fullmatch(phone):
        raise AccountError("phone", "phone must be an 11-digit mainland mobile number")
    if not 1 <= len(name or "") <= 20:
        raise AccountError("name", "name must be 1 to 20 characters")
    if len(password or "") < MIN_PASSWORD:
        raise AccountError("password", f"password must be at least {MIN_PASSWORD} characters")
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone, created_at=now, session_version=1)
        session.add(user)
    user.name, user.role, user.district = name, role, district if role == ROLE_DISTRICT else None
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1
    session.commit()
    return user


def authenticate(session, phone, password) -> User | None:
    """The user for this phone and password, or None (without saying which was wrong)."""
    known_shape = isinstance(phone, str) and PHONE.fullmatch(phone)
    user = session.scalar(select(User).where(User.phone == phone)) if known_shape else None
    if user is None or not isinstance(password, str) or not storable(password, controls=True):
        check_password_hash(_DUMMY_HASH, "x")
        return None
    return user if check_password_hash(user.password_hash, password) else None


def issue_token(session, user: User, now: datetime, ttl_s: int) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=ttl_s)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), expires_at=expires, created_at=now))
    session.commit()
    return token, expires


@dataclass(frozen=True)
class TokenHolder:
    """Who a bearer token belongs to: the columns the API's hot paths read (saves, submits,
    /me, the rate-limit key), without loading a User object."""
    id: int
    name: str
    district: str | None
    role: str


@dataclass(frozen=True)
class Caller:
    """Who asks for an attempt's work, as its statements check it: a signed-in user's id
    (cookie pages, CLI, finalizer), or a bearer token (API), checked in the same statement."""
    user_id: int | None = None
    token_hash: str | None = None

    @classmethod
    def of(cls, user) -> "Caller":
        """A Caller as is, else the caller of a User or TokenHolder."""
        return user if isinstance(user, Caller) else cls(user_id=user.id)

    @classmethod
    def bearer(cls, token: str) -> "Caller":
        return cls(token_hash=token_digest(token))


def token_user_sql(token_hash: str, now: str) -> str:
    """The token rule, as SQL: the user id of the token whose digest is `token_hash` if it
    has not expired at `now` (NULL otherwise). Every statement that checks a token embeds it."""
    return f"(SELECT t.user_id FROM api_tokens t WHERE t.token_hash = {token_hash} AND t.expires_at > {now})"


TOKEN_HOLDER = direct.Statement(
    f"SELECT id, name, district, role FROM users WHERE id = {token_user_sql(':token_hash', ':now')}"
)


def token_holder(session, token: str, now: datetime) -> TokenHolder | None:
    """The holder of an unexpired token, in one statement: every API request pays for it."""
    row = direct.first(direct.pool_for(session), TOKEN_HOLDER, {"token_hash": token_digest(token), "now": now})
    return TokenHolder(*row) if row is not None else None


def revoke_sessions(session, user: User, api_tokens: bool = True) -> None:
    """Log out everywhere: old cookies and remember-me cookies stop working, and the API
    tokens too unless api_tokens is False (a web logout leaves the apps signed in)."""
    user.session_version += 1
    if api_tokens:
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    session.commit()


def token_digest(token: str) -> str:
    """What api_tokens stores of a token: its SHA-256 (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()
