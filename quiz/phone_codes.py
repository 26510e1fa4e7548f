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
from sqlalchemy import text

from quiz import sms
from quiz.db import direct

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


_LOCK = direct.Statement("SELECT pg_advisory_xact_lock(hashtext('phone_code:' || CAST(:phone AS text)))",
                         prepared="quiz_code_lock")

# The rule of issuing, one statement after the phone's lock: a phone that had a code in the
# last INTERVAL is "interval"-limited, else one with PER_DAY codes (any purpose) in the last
# DAY is "day"-limited; otherwise its live codes of the purpose are spent (replaced) and the
# new one inserted. It answers the verdict (NULL: issued) and the phone's oldest and newest
# code of the DAY, which tell when asking again is allowed. PREPAREd with the direct
# connections (planning it on each request was 40 % of a code's PostgreSQL CPU), hence the
# casts that type its parameters.
_NOW = "CAST(:now AS timestamp)"
_ISSUE = direct.Statement(
    "WITH recent AS (SELECT count(*) AS n, min(created_at) AS oldest, max(created_at) AS newest FROM phone_codes"
    f" WHERE phone = :phone AND created_at > {_NOW} - CAST(:day AS interval)),"
    f" verdict AS (SELECT CASE WHEN newest > {_NOW} - CAST(:interval AS interval) THEN 'interval'"
    " WHEN n >= :per_day THEN 'day' END AS limited, oldest, newest FROM recent),"
    f" replaced AS (UPDATE phone_codes SET spent_at = {_NOW} WHERE phone = :phone AND purpose = :purpose"
    " AND spent_at IS NULL AND EXISTS (SELECT FROM verdict WHERE limited IS NULL)),"
    " issued AS (INSERT INTO phone_codes (phone, purpose, code_hash, created_at, expires_at, wrong_tries)"
    f" SELECT :phone, :purpose, :code_hash, {_NOW}, {_NOW} + CAST(:valid_for AS interval), 0 FROM verdict"
    " WHERE limited IS NULL)"
    " SELECT limited, oldest, newest FROM verdict",
    prepared="quiz_code_issue",
)


def issue(session, phone: str, purpose, now: datetime, sender=None) -> Issued:
    """Send a new code for `purpose` to `phone` (as stored: accounts.send_code normalizes it);
    raise CodeRefused (purpose), CodeRateLimited or CodeUndelivered (then nothing is stored)."""
    purpose = check_purpose(purpose)
    sender = sender or sms.sender_for(current_app.config)
    code = f"{secrets.randbelow(10 ** 6):06d}"
    values = {"phone": phone, "purpose": purpose, "code_hash": _digest(phone, purpose, code), "now": now, "day": DAY,
              "interval": INTERVAL, "per_day": PER_DAY, "valid_for": VALID_FOR}
    # One issue per phone at a time: _ISSUE's counts cannot be raced. The lock is a statement of
    # its own (a statement's snapshot is taken before the lock it waits for is granted), sent
    # with _ISSUE in one message; the transaction stays open while the gateway is called, on a
    # direct connection (the direct pool has a connection for each of a worker's requests).
    with direct.transaction(direct.pool_for(session)) as tx:
        verdict = tx.begin([(_LOCK, values), (_ISSUE, values)])[-1][0]
        if verdict.limited is not None:
            tx.commit()  # nothing was written: ends the lock
        if verdict.limited == "interval":
            wait = _seconds(verdict.newest + INTERVAL - now)
            raise CodeRateLimited(wait, f"验证码已发送，请 {wait} 秒后再重新获取。")
        if verdict.limited == "day":
            raise CodeRateLimited(_seconds(verdict.oldest + DAY - now), "今天获取验证码的次数已达上限，请明天再试。")
        try:
            sender.send(sms.Message(phone=phone, code=code, purpose=purpose))
        except sms.Undelivered:
            tx.abandon()  # nothing stored
            raise CodeUndelivered() from None
    return Issued(phone, _seconds(INTERVAL), code if getattr(sender, "shows_code", False) else None)


# The rule of a code's use: the phone's newest live code for the purpose (unspent,
# unexpired; row locked until the transaction ends) is spent when the digest matches, unless
# `keep_if` holds (then it stays as it is); otherwise its wrong tries go up by one and the
# MAX_WRONG-th voids it. `ok` is NULL-safe: no digest (a code of the wrong shape) is a wrong
# try. As CTEs `live` and `spent` (spent.ok), so that a statement can act on the code in the
# same round trip (accounts.token_by_code); parameters as use_values gives them.
def spend_ctes(keep_if: str = "FALSE") -> str:
    right = "COALESCE(p.code_hash = :code_hash, FALSE)"
    return (
        "live AS (SELECT id FROM phone_codes WHERE phone = :phone AND purpose = :purpose"
        " AND spent_at IS NULL AND expires_at > :now ORDER BY created_at DESC LIMIT 1 FOR UPDATE),"
        f" spent AS (UPDATE phone_codes p SET wrong_tries = p.wrong_tries + CASE WHEN {right} THEN 0 ELSE 1 END,"
        f" spent_at = CASE WHEN {right} THEN CASE WHEN {keep_if} THEN NULL ELSE CAST(:now AS timestamp) END"
        " WHEN p.wrong_tries + 1 >= :max_wrong THEN CAST(:now AS timestamp) END"
        f" FROM live WHERE p.id = live.id RETURNING {right} AS ok)"
    )


_USE = text(f"WITH {spend_ctes()} SELECT ok FROM spent")


def use_values(phone: str, purpose: str, code, now: datetime) -> dict:
    """The parameters of spend_ctes for `code` as typed; CodeRefused without a code."""
    if not isinstance(code, str) or not code.strip():
        raise CodeRefused("code", "请输入短信验证码。")
    code = code.strip()
    shaped = code.isascii() and code.isdigit() and len(code) == 6
    return {"phone": phone, "purpose": purpose, "now": now, "max_wrong": MAX_WRONG,
            "code_hash": _digest(phone, purpose, code) if shaped else None}


def use(session, phone: str, purpose: str, code, now: datetime) -> None:
    """Spend the live code of `phone` for `purpose` if `code` is it, in the caller's
    transaction: committed with the work it allows (a rollback leaves it unused). Otherwise
    CodeRefused on field "code"; a wrong try is counted (and committed) at once."""
    found = session.execute(_USE, use_values(phone, purpose, code, now)).first()
    if found is None:
        session.rollback()
        raise CodeRefused("code", WRONG_CODE)
    if not found.ok:
        session.commit()
        raise CodeRefused("code", WRONG_CODE)


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))
