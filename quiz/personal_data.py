"""Personal data kept no longer than needed: correcting, closing an account, purging a contest.

Every path (the CLI, the 我的 page, the console) calls these functions. Personal data is
the phone, the name and the unit; it is replaced by placeholders that cannot be reversed
(a random token where the phone was: it is not a phone, so it never logs in nor matches
one). Scores, attempts, district, group and every aggregate stay as they were. SQL is
changed first; the boards of the affected contests are rebuilt after (quiz.leaderboard).
"""
import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from quiz import leaderboard
from quiz.accounts import AccountError, storable
from quiz.clock import local
from quiz.contest import attempts
from quiz.contest.errors import ContestError
from quiz.extensions import db
from quiz.models import ATTEMPT_ACTIVE, ROLE_CITIZEN, ApiToken, Attempt, AuditEntry, Contest, User
from quiz.redis_connection import Unavailable, fail_open
from quiz.web.audit import record as audit

PLACEHOLDER_NAME = "已删除"
NO_PASSWORD = "!"  # not a password hash: every password check fails


class PurgeRefused(Exception):
    """The contest's personal data may not be purged yet; message says until when."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Outcome:
    users: list[User] = field(default_factory=list)  # accounts changed
    rebuilt: list[str] = field(default_factory=list)  # contest slugs whose boards were rebuilt
    stale: list[str] = field(default_factory=list)  # slugs Redis could not rebuild (run leaderboard rebuild)


def placeholder_phone() -> str:
    """11 characters (the column's width), starting with a letter: never a phone number."""
    return "x" + secrets.token_hex(5)


def _when(moment: datetime) -> str:
    return local(moment).strftime("%Y年%m月%d日 %H:%M")


def _anonymize(session, user: User, now: datetime) -> None:
    """Replace the account's personal data (in users, in the audit log, in pending phone codes),
    end its sessions and tokens. No commit."""
    old_phone, new_phone = user.phone, placeholder_phone()
    user.phone, user.name, user.unit = new_phone, PLACEHOLDER_NAME, None
    user.password_hash, user.totp_secret = NO_PASSWORD, None
    user.anonymized_at = now
    user.session_version = (user.session_version or 0) + 1
    # The audit log names accounts by phone (e.g. "13900000001 staff=yes").
    session.execute(update(AuditEntry).where(AuditEntry.detail.contains(old_phone))
                    .values(detail=func.replace(AuditEntry.detail, old_phone, new_phone))
                    .execution_options(synchronize_session=False))
    session.execute(update(AuditEntry).where(AuditEntry.actor == old_phone).values(actor=new_phone)
                    .execution_options(synchronize_session=False))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    codes = db.metadata.tables.get("phone_codes")
    if codes is not None:  # codes sent to the phone: useless now, and they name the phone
        session.execute(delete(codes).where(codes.c.phone == old_phone))


def _timed_contests(session, user_ids: list[int]) -> list[Contest]:
    """Contests where one of these accounts has a finished timed attempt (their boards show it)."""
    if not user_ids:
        return []
    return list(session.scalars(
        select(Contest).where(Contest.id.in_(
            select(Attempt.contest_id).where(Attempt.user_id.in_(user_ids), Attempt.practice.is_(False),
                                            Attempt.status != ATTEMPT_ACTIVE)))
        .order_by(Contest.id)))


def _rebuild(session, contests: list[Contest], outcome: Outcome) -> Outcome:
    for contest in contests:
        try:
            with fail_open("personal data rebuild"):
                leaderboard.rebuild(session, contest)
            outcome.rebuilt.append(contest.slug)
        except Unavailable:
            session.rollback()
            outcome.stale.append(contest.slug)
    return outcome


# ---- purge ------------------------------------------------------------------------

def purge_blocker(contest: Contest, older_than_days: int, now: datetime) -> str | None:
    """Why the contest's personal data may not be purged now (in Chinese), or None."""
    if contest.ends_at > now:
        return f"竞赛 {contest.slug} 尚未结束（{_when(contest.ends_at)} 结束），不能删除个人信息。"
    allowed = contest.ends_at + timedelta(days=older_than_days)
    if allowed > now:
        return (f"竞赛 {contest.slug} 于 {_when(contest.ends_at)} 结束，还不满 {older_than_days} 天："
                f"{_when(allowed)} 之后才能删除。")
    return None


def purge_contest(session, contest: Contest, older_than_days: int, now: datetime, actor=None) -> Outcome:
    """Replace the personal data of every citizen with an attempt in the contest (organizers
    keep theirs) once it ended more than older_than_days ago; raises PurgeRefused otherwise.
    Accounts already anonymized are left alone, so a second run changes nothing."""
    if not isinstance(older_than_days, int) or older_than_days < 0:
        raise PurgeRefused("天数须为不小于 0 的整数。")
    blocker = purge_blocker(contest, older_than_days, now)
    if blocker:
        raise PurgeRefused(blocker)
    users = list(session.scalars(
        select(User).where(User.id.in_(select(Attempt.user_id).where(Attempt.contest_id == contest.id)),
                           User.role == ROLE_CITIZEN, User.anonymized_at.is_(None))
        .order_by(User.id).with_for_update()))
    for user in users:
        _anonymize(session, user, now)
    contest.purged_at = now
    session.commit()
    audit(session, actor, "citizens.purge", f"{contest.slug}: {len(users)} account(s) older than {older_than_days} days")
    return _rebuild(session, [contest], Outcome(users=users))


# ---- closing an account (注销) -------------------------------------------------------

def close_account(session, user: User, now: datetime) -> Outcome:
    """The citizen closes their account: personal data replaced at once, every session and
    token ended; their results stay in the aggregates but leave the public boards."""
    if user.role != ROLE_CITIZEN:
        raise AccountError("account", "组织者账号不能在这里注销。")
    user_id = user.id
    # Running attempts are handed in first (what was saved counts): none finishes later
    # under the closed account, so none reaches a board after the rebuild below.
    for attempt_id in session.scalars(select(Attempt.id).where(Attempt.user_id == user_id,
                                                               Attempt.status == ATTEMPT_ACTIVE)).all():
        with contextlib.suppress(ContestError):
            attempts.submit_attempt(session, user, attempt_id, now)
    session.refresh(user)
    _anonymize(session, user, now)
    user.closed_at = now
    session.commit()
    audit(session, user, "citizen.close", f"user {user_id}")
    return _rebuild(session, _timed_contests(session, [user_id]), Outcome(users=[user]))


# ---- corrections ------------------------------------------------------------------

def can_correct(session, user: User) -> bool:
    """A citizen may correct their own name and unit until their first finished timed attempt."""
    return session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.user_id == user.id, Attempt.practice.is_(False), Attempt.status != ATTEMPT_ACTIVE)) == 0


def correct_details(session, user: User, name, unit) -> User:
    """The citizen's own correction of name and unit; raises AccountError (field named) when
    refused: after the first finished attempt, or a value that is not valid."""
    if not can_correct(session, user):
        raise AccountError("name", "已有正式答题成绩，姓名和单位不能再修改；如有错误请联系组织者。", code="locked")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 20 or not storable(name):
        raise AccountError("name", "姓名为 1 到 20 个字符。")
    if unit is not None and (not isinstance(unit, str) or len(unit.strip()) > 100 or not storable(unit)):
        raise AccountError("unit", "工作单位或学校最多 100 个字符。")
    unit = (unit or "").strip() or None
    if getattr(user, "unit_code", None) and unit != user.unit:  # a unit picked from the contest's list
        raise AccountError("unit", "单位是从竞赛名单中选择的，如需更改请联系组织者。")
    user.name, user.unit = name.strip(), unit
    session.commit()
    return user


def change_district(session, user: User, district, districts: set[str], actor) -> Outcome:
    """An organizer moves a citizen to another district (audited); the boards of the contests
    where the citizen has results are rebuilt. Raises AccountError for an unknown district."""
    if user.role != ROLE_CITIZEN:
        raise AccountError("district", "只能修改市民的区县。")
    if district not in districts:
        raise AccountError("district", "请选择列表中的区县。")
    if district == user.district:
        return Outcome()
    old = user.district
    user.district = district
    session.commit()
    audit(session, actor, "citizen.district", f"user {user.id}: {old or '-'} -> {district}")
    return _rebuild(session, _timed_contests(session, [user.id]), Outcome(users=[user]))
