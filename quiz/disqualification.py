"""Disqualifying a citizen from one contest, and reinstating them: audited and reversible.

A disqualified citizen leaves the contest's boards, aggregates, final standings and
draws (leaderboard.counted_accounts); their attempts stay in SQL. The boards are rebuilt
from SQL at once; when Redis is away they are rebuilt by `leaderboard rebuild` (the
caller is told).
"""
from dataclasses import dataclass

from sqlalchemy import select

from quiz import leaderboard
from quiz.clock import utcnow
from quiz.models import Contest, Disqualification, User
from quiz.redis_connection import Unavailable, fail_open
from quiz.web.audit import record as audit


class DisqualificationError(ValueError):
    """A disqualification that cannot be made (the message says why, in Chinese)."""


@dataclass
class Outcome:
    disqualification: Disqualification
    boards_rebuilt: bool


def active_disqualification(session, contest: Contest, user_id: int) -> Disqualification | None:
    return session.scalar(select(Disqualification).where(
        Disqualification.contest_id == contest.id, Disqualification.user_id == user_id,
        Disqualification.lifted_at.is_(None)))


def disqualify(session, contest: Contest, user: User, reason: str, actor) -> Outcome:
    """Take `user` out of `contest` for `reason` (required); actor is the organizer (None: CLI)."""
    reason = (reason or "").strip()
    if not reason:
        raise DisqualificationError("请填写取消资格的理由")
    if active_disqualification(session, contest, user.id) is not None:
        raise DisqualificationError("该市民已被取消本竞赛资格")
    entry = Disqualification(contest_id=contest.id, user_id=user.id, reason=reason[:1000],
                             by=getattr(actor, "phone", None) or "cli", at=utcnow())
    session.add(entry)
    session.commit()
    audit(session, actor, "citizen.disqualify", f"{contest.slug} user={user.id} reason={reason[:200]}")
    return Outcome(entry, _rebuild(session, contest))


def reinstate(session, contest: Contest, user: User, reason: str, actor) -> Outcome:
    """Lift the citizen's disqualification in `contest` (reason required)."""
    reason = (reason or "").strip()
    if not reason:
        raise DisqualificationError("请填写恢复资格的理由")
    entry = active_disqualification(session, contest, user.id)
    if entry is None:
        raise DisqualificationError("该市民没有被取消本竞赛资格")
    entry.lifted_at, entry.lifted_by, entry.lift_reason = utcnow(), getattr(actor, "phone", None) or "cli", reason[:1000]
    session.commit()
    audit(session, actor, "citizen.reinstate", f"{contest.slug} user={user.id} reason={reason[:200]}")
    return Outcome(entry, _rebuild(session, contest))


def _rebuild(session, contest: Contest) -> bool:
    try:
        with fail_open("rebuild after disqualification"):
            leaderboard.rebuild(session, contest)
        return True
    except Unavailable:
        session.rollback()
        return False
