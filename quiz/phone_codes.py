"""Phone codes: issue a 6-digit code to a phone, verify it, consume it.

Every path that takes a code (API and pages: registration, code login, password reset)
goes through `issue` and `use`. A code is valid for 5 minutes and for one
purpose; only its keyed SHA-256 is stored; 5 wrong tries void it; a newer code of the same
purpose replaces it. At most one code a minute and 10 in 24 hours per phone, whatever the
purpose, and whether or not the phone is registered (the answer never says).
"""
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, text, update

from quiz import sms
from quiz.models import PhoneCode

PURPOSES = ("register", "login", "reset")
VALID_FOR = timedelta(minutes=5)
INTERVAL = timedelta(seconds=60)  # between two codes to one phone
PER_DAY = 10  # codes to one phone in 24 hours
DAY = timedelta(hours=24)
MAX_WRONG = 5
WRONG_CODE = "验证码不正确或已失效，请重新获取。"


class CodeRefused(Exception):
    """A wrong, missing or spent code (field "code"), or an unknown purpose: quiz.accounts
    raises it on as an AccountError (422 invalid with the field)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class CodeRateLimited(Exception):
    def __init__(self, retry_after_s: int, message: str):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.message = message


class CodeUndelivered(Exception):
    message = "短信暂时发送失败，请稍后再试。"


@dataclass(frozen=True)
class Issued:
    phone: str
    retry_after_s: int
    shown_code: str | None  # the code itself, only for a console sender with SMS_SHOW_CODE


def _digest(phone: str, purpose: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def check_purpose(purpose) -> str:
    if purpose not in PURPOSES:
        raise CodeRefused("purpose", "purpose 只能是 register、login 或 reset。")
    return purpose


def issue(session, phone: str, purpose, now: datetime, sender=None) -> Issued:
    """Send a new code for `purpose` to `phone` (as stored: accounts.send_code normalizes it);
    raise CodeRefused (purpose), CodeRateLimited or CodeUndelivered (then nothing is stored)."""
    purpose = check_purpose(purpose)
    sender = sender or sms.sender_for(current_app.config)
    # One issue per phone at a time: the counts below cannot be raced.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('phone_code:' || :phone))"), {"phone": phone})
    recent = session.execute(
        select(func.count(), func.min(PhoneCode.created_at), func.max(PhoneCode.created_at))
        .where(PhoneCode.phone == phone, PhoneCode.created_at > now - DAY)).one()
    count, oldest, newest = recent
    if newest is not None and newest > now - INTERVAL:
        session.rollback()
        wait = _seconds(newest + INTERVAL - now)
        raise CodeRateLimited(wait, f"验证码已发送，请 {wait} 秒后再重新获取。")
    if count >= PER_DAY:
        session.rollback()
        raise CodeRateLimited(_seconds(oldest + DAY - now), "今天获取验证码的次数已达上限，请明天再试。")
    code = f"{secrets.randbelow(10 ** 6):06d}"
    session.execute(update(PhoneCode).where(PhoneCode.phone == phone, PhoneCode.purpose == purpose,
                                            PhoneCode.spent_at.is_(None)).values(spent_at=now))
    session.add(PhoneCode(phone=phone, purpose=purpose, code_hash=_digest(phone, purpose, code), created_at=now,
                          expires_at=now + VALID_FOR, wrong_tries=0))
    session.flush()
    try:
        sender.send(sms.Message(phone=phone, code=code, purpose=purpose))
    except sms.Undelivered:
        session.rollback()
        raise CodeUndelivered() from None
    session.commit()
    return Issued(phone, _seconds(INTERVAL), code if getattr(sender, "shows_code", False) else None)


# The rule of a code's use, one statement: the phone's newest live code for the purpose
# (unspent, unexpired; row locked until the caller's transaction ends) is spent when the
# digest matches; otherwise its wrong tries go up by one and the MAX_WRONG-th voids it.
# `ok` is NULL-safe: no digest (a code of the wrong shape) is a wrong try.
_USE = text(
    "WITH live AS (SELECT id FROM phone_codes WHERE phone = :phone AND purpose = :purpose"
    " AND spent_at IS NULL AND expires_at > :now ORDER BY created_at DESC LIMIT 1 FOR UPDATE)"
    " UPDATE phone_codes p SET"
    " wrong_tries = p.wrong_tries + CASE WHEN COALESCE(p.code_hash = :code_hash, FALSE) THEN 0 ELSE 1 END,"
    " spent_at = CASE WHEN COALESCE(p.code_hash = :code_hash, FALSE) OR p.wrong_tries + 1 >= :max_wrong"
    " THEN CAST(:now AS timestamp) END"
    " FROM live WHERE p.id = live.id RETURNING COALESCE(p.code_hash = :code_hash, FALSE) AS ok"
)


def use(session, phone: str, purpose: str, code, now: datetime) -> None:
    """Spend the live code of `phone` for `purpose` if `code` is it, in the caller's
    transaction: committed with the work it allows (a rollback leaves it unused). Otherwise
    CodeRefused on field "code"; a wrong try is counted (and committed) at once."""
    if not isinstance(code, str) or not code.strip():
        raise CodeRefused("code", "请输入短信验证码。")
    code = code.strip()
    shaped = code.isascii() and code.isdigit() and len(code) == 6
    found = session.execute(_USE, {"phone": phone, "purpose": purpose, "now": now, "max_wrong": MAX_WRONG,
                                   "code_hash": _digest(phone, purpose, code) if shaped else None}).first()
    if found is None:
        session.rollback()
        raise CodeRefused("code", WRONG_CODE)
    if not found.ok:
        session.commit()
        raise CodeRefused("code", WRONG_CODE)


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))
