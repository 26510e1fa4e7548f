"""Citizens and organizers: registration, passwords, API tokens, name masking."""
import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from quiz import groups, passwords, phone_codes
from quiz.db import direct
from quiz.models import ROLE_CITIZEN, ROLE_CITY, ROLE_DISTRICT, ApiToken, User

# ASCII digits only: `\d` also matches full-width (０) and Arabic-Indic (٠) digits.
PHONE = re.compile(r"1[3-9][0-9]{9}")
PHONE_MESSAGE = "请输入 11 位中国大陆手机号码。"
_PHONE_SPACING = str.maketrans("", "", " \u3000-")  # spaces (also the ideographic one) and dashes
GROUPS = ("青少年", "农民", "产业工人", "老年人", "领导干部和公务员", "其他")
MIN_PASSWORD = 8


class AccountError(Exception):
    def __init__(self, field: str, message: str, code: str = "invalid"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


def normalize_phone(raw) -> str:
    """A mainland mobile number as it is stored and looked up: 11 ASCII digits.

    Spaces and dashes are dropped, then a leading +86 or 86: "139 0000 0001" and
    "+86 139-0000-0001" give "13900000001". Anything else raises AccountError on field
    "phone" (code "invalid"), e.g. "139０0000001" (a full-width digit) or "139٠0000001".
    Registration, login, the API, the CLI and organizer creation all go through here.
    """
    phone = raw.translate(_PHONE_SPACING) if isinstance(raw, str) else ""
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    if not PHONE.fullmatch(phone):
        raise AccountError("phone", PHONE_MESSAGE)
    return phone


def mask_name(name: str) -> str:
    """张三丰 -> 张*丰, 李四 -> 李*, 王 -> 王*: what others may see of a citizen."""
    name = (name or "").strip()
    if len(name) <= 2:
        return name[:1] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "*" * len(phone)


def hash_password(password: str) -> str:
    """A salted scrypt hash at OWASP's minimum cost, at most a few at once per worker (quiz/passwords.py)."""
    return passwords.hash_password(password)


_SURROGATES = re.compile("[\ud800-\udfff]")
_SURROGATES_OR_CONTROLS = re.compile("[\ud800-\udfff\x00-\x1f\x7f-\x9f]")  # Unicode's Cs, and Cs + Cc


def storable(text: str, controls: bool = False) -> bool:
    """PostgreSQL refuses NUL and UTF-8 refuses lone surrogates: such input is invalid, never a 500."""
    return not (_SURROGATES if controls else _SURROGATES_OR_CONTROLS).search(text)


def check_fields(phone, name, district, password, group, unit, districts: set[str],
                 password_optional: bool = False, group_codes: set[str] | None = None) -> str:
    """Raise AccountError naming the first field that is wrong; return the phone as stored.
    `password_optional`: registration by a phone code, where no password (None or "") is allowed.
    `group_codes`: the contest's groups (quiz.groups.codes): then `group` must be one of them;
    without them it is optional, one of GROUPS."""
    phone = normalize_phone(phone)
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 20 or not storable(name):
        raise AccountError("name", "姓名为 1 到 20 个字符。")
    if district not in districts:
        raise AccountError("district", "请选择所在区县。")
    if group_codes and group in (None, ""):
        raise AccountError("group", "请选择参赛组别。")
    if group_codes and not (isinstance(group, str) and group in group_codes):
        raise AccountError("group", "请从列表中选择参赛组别。")
    if not group_codes and group not in (None, "", *GROUPS):
        raise AccountError("group", "请选择列表中的人群。")
    if unit is not None and (not isinstance(unit, str) or len(unit) > 100 or not storable(unit)):
        raise AccountError("unit", "工作单位或学校最多 100 个字符。")
    if password_optional and password in (None, ""):
        return phone
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or not storable(password, controls=True):
        raise AccountError("password", f"密码至少 {MIN_PASSWORD} 个字符。")
    return phone


def place_unit(district, unit, township, contest=None) -> tuple[str | None, str | None, str | None]:
    """(unit code, unit name, township code) of a registration, or AccountError (code "invalid")
    on field "unit" or "township".

    When the contest lists units, `unit` is one of their codes (or empty: the unit stays optional);
    otherwise it is free text. When the contest lists townships for `district`, `township` is one
    of their codes and required; otherwise it must be empty.
    """
    units = {u["code"]: u for u in (getattr(contest, "units", None) or [])}
    unit = unit.strip() if isinstance(unit, str) else unit
    code = None
    if units and unit:
        if unit not in units:
            raise AccountError("unit", "请从列表中选择工作单位或学校。")
        code, unit = unit, units[unit]["name"]
    townships = {t["code"] for t in ((getattr(contest, "townships", None) or {}).get(district) or [])}
    township = township.strip() if isinstance(township, str) else township
    if townships and not township:
        raise AccountError("township", "请选择所在镇（街道）。")
    if township and (not isinstance(township, str) or township not in townships):
        raise AccountError("township", "请从列表中选择所在镇（街道）。")
    return code, unit or None, township or None


# A citizen's row: every column but the id, so that the User returned can be built from the values.
_CITIZEN_COLUMNS = ("phone", "name", "district", "group", "unit", "unit_code", "township", "password_hash", "role",
                    "session_version", "created_at", "registered_from", "staff", "totp_secret", "anonymized_at",
                    "closed_at")
_CITIZEN_INTO = "users (" + ", ".join('"' + c + '"' for c in _CITIZEN_COLUMNS) + ")"  # "group" is a keyword
_CITIZEN_VALUES = ", ".join(":" + c for c in _CITIZEN_COLUMNS)
_REGISTER = direct.Statement(f"INSERT INTO {_CITIZEN_INTO} VALUES ({_CITIZEN_VALUES}) RETURNING id AS user_id")
# A registration by code in one statement: the phone's registration code is used
# (phone_codes.spend_ctes: a wrong one is counted) and the citizen inserted if it was right.
# A taken phone fails the whole statement: the code stays unused.
_REGISTER_BY_CODE = direct.Statement(
    f"WITH {phone_codes.spend_ctes()},"
    f" inserted AS (INSERT INTO {_CITIZEN_INTO} SELECT {_CITIZEN_VALUES} FROM spent WHERE spent.ok RETURNING id)"
    " SELECT spent.ok, inserted.id AS user_id FROM (SELECT 1) one LEFT JOIN spent ON TRUE LEFT JOIN inserted ON TRUE"
)


def register_citizen(session, phone, name, district, password, group, unit, districts: set[str], now: datetime,
                     verify_phone: bool = False, code=None, township=None, contest=None,
                     address: str | None = None) -> User:
    """A new citizen. With `verify_phone` (PHONE_VERIFICATION) `code` must be the phone's
    live registration code (consumed with the registration) and the password is optional:
    without one the citizen logs in by code only. `address`: the client's (review flags)."""
    phone = check_fields(phone, name, district, password, group, unit, districts, password_optional=verify_phone,
                         group_codes=groups.codes(contest))
    unit_code, unit, township = place_unit(district, unit, township, contest)
    values = {"phone": phone, "name": name.strip(), "district": district, "group": group or None, "unit": unit,
              "unit_code": unit_code, "township": township,
              "password_hash": hash_password(password) if password else None, "role": ROLE_CITIZEN,
              "session_version": 1, "created_at": now, "registered_from": address[:45] if address else None,
              "staff": False, "totp_secret": None, "anonymized_at": None, "closed_at": None}
    try:
        with code_refusals():
            if verify_phone:
                found = direct.first(direct.pool_for(session), _REGISTER_BY_CODE,
                                     values | phone_codes.use_values(phone, "register", code, now))
                if not found.ok:  # no live code (NULL), or a wrong one (counted)
                    raise phone_codes.CodeRefused("code", phone_codes.WRONG_CODE)
            else:
                found = direct.first(direct.pool_for(session), _REGISTER, values)
    except IntegrityError:
        raise AccountError("phone", "该手机号已注册，请直接登录。", code="phone_taken") from None
    # The row as inserted, in the session without a reload (a column not listed loads on first use).
    user = User(id=found.user_id, **values)
    make_transient_to_detached(user)
    session.add(user)
    return user


ROLE_NAMES = {ROLE_CITIZEN: "市民", ROLE_DISTRICT: "区县组织者", ROLE_CITY: "市级组织者"}


def create_organizer(session, phone, name, password, role: str, district: str | None, now: datetime,
                     promote: bool = False) -> User:
    """Create an organizer, or reset an existing organizer's name and password.

    An existing account whose role would change (a citizen who registered with this phone,
    or an organizer of the other level) is refused unless `promote`. Whatever changed, the
    account's sessions and API tokens end: the password is new, and a token or cookie must
    never carry a role it was not issued under.
    """
    if role not in (ROLE_CITY, ROLE_DISTRICT):
        raise AccountError("role", "角色只能是 city 或 district。")
    if role == ROLE_DISTRICT and not district:
        raise AccountError("district", "区县组织者需要 --district。")
    phone = normalize_phone(phone)
    if not isinstance(name, str) or not 1 <= len(name) <= 20 or not storable(name):
        raise AccountError("name", "姓名为 1 到 20 个字符。")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or not storable(password, controls=True):
        raise AccountError("password", f"密码至少 {MIN_PASSWORD} 个字符。")
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone, created_at=now, session_version=1)
        session.add(user)
    elif user.role != role and not promote:
        raise AccountError("phone", f"手机号 {phone} 已是{ROLE_NAMES.get(user.role, user.role)}账号；"
                                    f"确需改为{ROLE_NAMES[role]}，请加 --promote（该账号的登录和令牌将全部失效）。",
                           code="phone_taken")
    else:
        _end_sessions(session, user, api_tokens=True)
    user.name, user.role, user.district = name, role, district if role == ROLE_DISTRICT else None
    user.password_hash = hash_password(password)
    session.commit()
    return user


def authenticate(session, phone, password) -> User | None:
    """The user for this phone and password, or None (without saying which was wrong)."""
    try:
        phone = normalize_phone(phone)
    except AccountError:
        phone = None
    user = session.scalar(select(User).where(User.phone == phone)) if phone else None
    if (user is None or not user.password_hash or not isinstance(password, str)
            or not storable(password, controls=True)):
        passwords.check_password(None, "x")  # also for an account without a password (code login only)
        return None
    return user if passwords.check_password(user.password_hash, password) else None


@contextlib.contextmanager
def code_refusals():
    """A refused phone code is an AccountError naming its field ("code" or "purpose")."""
    try:
        yield
    except phone_codes.CodeRefused as exc:
        raise AccountError(exc.field, exc.message) from None


def send_code(session, phone, purpose, now: datetime) -> phone_codes.Issued:
    """Send a code for `purpose` ("register", "login", "reset") to `phone`, registered or
    not: AccountError (phone, purpose), phone_codes.CodeRateLimited or CodeUndelivered."""
    phone = normalize_phone(phone)
    with code_refusals():
        return phone_codes.issue(session, phone, purpose, now)


class CodeLoginRefused(Exception):
    """A right code for an organizer: organizers log in with their password (and TOTP)."""


def authenticate_by_code(session, phone, code, now: datetime) -> User | None:
    """The citizen whose phone received this login code (consumed), or None for a phone
    without an account. A wrong code raises AccountError on "code" (counted toward the
    5 tries); an organizer's phone raises CodeLoginRefused, the code left unused."""
    user = _code_user(session, phone, code, now)
    session.commit()
    return user


def token_by_code(session, phone, code, now: datetime, ttl_s: int) -> tuple[str, datetime] | None:
    """authenticate_by_code and issue_token (a citizen's token: no second factor) in one
    statement, _TOKEN_BY_CODE: (token, expiry), or None (the code spent) for a phone without
    an account; refusals as authenticate_by_code's."""
    phone = normalize_phone(phone)
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=ttl_s)
    with code_refusals():
        values = phone_codes.use_values(phone, "login", code, now)
        found = direct.first(direct.pool_for(session), _TOKEN_BY_CODE, values | {
            "citizen": ROLE_CITIZEN, "batch": PURGE_BATCH, "token_hash": token_digest(token), "expires_at": expires})
        if not found.ok:  # no live code (NULL), or a wrong one (counted)
            raise phone_codes.CodeRefused("code", phone_codes.WRONG_CODE)
    if found.role is not None and found.role != ROLE_CITIZEN:
        raise CodeLoginRefused()  # the code left unused
    return (token, expires) if found.user_id is not None else None


def _code_user(session, phone, code, now: datetime) -> User | None:
    phone = normalize_phone(phone)
    with code_refusals():
        phone_codes.use(session, phone, "login", code, now)
    user = session.scalar(select(User).where(User.phone == phone))
    if user is not None and user.is_organizer:
        session.rollback()  # the code stays unused
        raise CodeLoginRefused()
    return user


def reset_password(session, phone, code, password, now: datetime) -> User:
    """Set a new password with a reset code sent to the phone; every session and API token
    of the account ends. A phone without an account is refused as a wrong code would be."""
    phone = normalize_phone(phone)
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or not storable(password, controls=True):
        raise AccountError("password", f"密码至少 {MIN_PASSWORD} 个字符。")
    with code_refusals():
        phone_codes.use(session, phone, "reset", code, now)
    user = session.scalar(select(User).where(User.phone == phone).with_for_update())
    if user is None:
        session.rollback()
        raise AccountError("code", phone_codes.WRONG_CODE)
    if user.is_organizer:
        session.rollback()
        raise AccountError("phone", "组织者账号的密码请联系系统管理员重设（flask admin create）。")
    user.password_hash = hash_password(password)
    _end_sessions(session, user, api_tokens=True)
    session.commit()
    return user


# Expired tokens deleted by each issue: a bounded batch, skipping rows another issue is deleting.
PURGE_BATCH = 100

_PURGE_EXPIRED_TOKENS = ("purged AS (DELETE FROM api_tokens WHERE id IN (SELECT id FROM api_tokens"
                         " WHERE expires_at <= :now ORDER BY expires_at LIMIT :batch FOR UPDATE SKIP LOCKED) RETURNING id)")
_TOKEN_ROW = "api_tokens (user_id, token_hash, expires_at, created_at, role, second_factor)"
# A token's insert and the purge in one statement (one round trip before the commit).
_ISSUE_TOKEN = text(f"WITH {_PURGE_EXPIRED_TOKENS} INSERT INTO {_TOKEN_ROW}"
                    " VALUES (:user_id, :token_hash, :expires_at, :now, :role, :second_factor)")
# A login by code in one round trip: the code's use (phone_codes.spend_ctes; an organizer's
# right code is left unspent), the token of the phone's citizen if the code was right, the purge.
_TOKEN_BY_CODE = direct.Statement(
    "WITH who AS (SELECT id, role FROM users WHERE phone = :phone),"
    f" {phone_codes.spend_ctes(keep_if='EXISTS (SELECT 1 FROM who WHERE who.role <> :citizen)')},"
    f" {_PURGE_EXPIRED_TOKENS},"
    f" issued AS (INSERT INTO {_TOKEN_ROW} SELECT who.id, :token_hash, :expires_at, :now, who.role, FALSE"
    " FROM who JOIN spent ON spent.ok WHERE who.role = :citizen RETURNING user_id)"
    " SELECT spent.ok, who.role, issued.user_id FROM (SELECT 1) one LEFT JOIN spent ON TRUE"
    " LEFT JOIN who ON TRUE LEFT JOIN issued ON TRUE"
)


def issue_token(session, user: User, now: datetime, ttl_s: int, second_factor: bool = False) -> tuple[str, datetime]:
    """A new bearer token for `user`, remembering the role it is issued under and whether
    the organizer passed the second factor for it (see token_account). Each issue also
    purges up to PURGE_BATCH expired tokens of anyone."""
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=ttl_s)
    session.execute(_ISSUE_TOKEN, {"now": now, "batch": PURGE_BATCH, "user_id": user.id, "token_hash": token_digest(token),
                                   "expires_at": expires, "role": user.role, "second_factor": second_factor})
    session.commit()
    return token, expires


def token_grants(token_role: str, second_factor: bool, user: User, require_totp: bool) -> bool:
    """A token speaks for its user only under the role it was issued with, and an organizer's
    token only if it was issued with the second factor while ADMIN_REQUIRE_TOTP is on."""
    if token_role != user.role:
        return False
    return not (require_totp and user.is_organizer and not second_factor)


def token_account(session, token: str, user_id: int, require_totp: bool) -> User | None:
    """The User of a token already found valid (token_holder) if the token still grants the
    user's role (token_grants), else None: what the API's organizer actions act as."""
    row = session.execute(
        select(User, ApiToken.role, ApiToken.second_factor).join(ApiToken, ApiToken.user_id == User.id)
        .where(User.id == user_id, ApiToken.token_hash == token_digest(token))
    ).first()
    if row is None:
        return None
    user, token_role, second_factor = row
    return user if token_grants(token_role, second_factor, user, require_totp) else None


def revoke_token(session, token: str) -> None:
    """Delete one bearer token: its app is signed out, the user's other tokens stay."""
    session.execute(delete(ApiToken).where(ApiToken.token_hash == token_digest(token))
                    .execution_options(synchronize_session=False))
    session.commit()


@dataclass(frozen=True)
class TokenHolder:
    """Who a bearer token belongs to: the columns the API's hot paths read (saves, submits,
    /me, the rate-limit key), without loading a User object."""
    id: int
    name: str
    district: str | None
    role: str
    staff: bool = False  # a staff or test account: kept off public standings
    group: str | None = None  # the group registered in (groups.attempt_group)
    token_role: str | None = None  # the role the token was issued under (token_grants)
    second_factor: bool = False  # the token was issued with an organizer's second factor

    @property
    def is_organizer(self) -> bool:
        return self.role in (ROLE_CITY, ROLE_DISTRICT)


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
    "SELECT u.id, u.name, u.district, u.role, u.staff, u.\"group\", t.role AS token_role, t.second_factor"
    " FROM users u JOIN api_tokens t ON t.user_id = u.id AND t.token_hash = :token_hash"
    f" WHERE u.id = {token_user_sql(':token_hash', ':now')}"
)


def token_holder(session, token: str, now: datetime) -> TokenHolder | None:
    """The holder of an unexpired token, in one statement: every API request pays for it."""
    row = direct.first(direct.pool_for(session), TOKEN_HOLDER, {"token_hash": token_digest(token), "now": now})
    return TokenHolder(*row) if row is not None else None


def holder_granted(holder: TokenHolder | None, require_totp: bool) -> TokenHolder | None:
    """The holder if their token still grants the user's present role (token_grants), else
    None: who a citizen's API action (a start) acts as, without loading the User."""
    if holder is None or not token_grants(holder.token_role, holder.second_factor, holder, require_totp):
        return None
    return holder


def revoke_sessions(session, user: User, api_tokens: bool = True) -> None:
    """Log out everywhere: old cookies and remember-me cookies stop working, and the API
    tokens too unless api_tokens is False (a web logout leaves the apps signed in)."""
    _end_sessions(session, user, api_tokens)
    session.commit()


def _end_sessions(session, user: User, api_tokens: bool) -> None:
    user.session_version = (user.session_version or 0) + 1
    if api_tokens:
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))


def token_digest(token: str) -> str:
    """What api_tokens stores of a token: its SHA-256 (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()
