"""The freeze (封榜): from the contest's freeze_at until an organizer unfreezes it, every
public board (API, displays, district and unit figures) shows the standings as of freeze_at.

Citizens still see their own new results, with their rank at the freeze; organizers see
the live figures in the console. The frozen boards themselves live in quiz/leaderboard.py
(the f: keys), read with as_of=frozen_at(contest, now).
"""
from datetime import datetime

from quiz import leaderboard
from quiz.clock import local
from quiz.models import Contest
from quiz.redis_connection import Unavailable, fail_open
from quiz.web.audit import record as audit


def shown(moment: datetime) -> str:
    """A stored instant as the notices show it (Beijing time, to the minute)."""
    return local(moment).strftime("%Y-%m-%d %H:%M")


def public_notice(as_of: datetime) -> str:
    """The 已封榜 notice of the public boards while frozen."""
    return f"已封榜：排行榜显示 {shown(as_of)}（北京时间）封榜时的成绩，此后的成绩将在解封后公布"


class NotFrozen(ValueError):
    """An unfreeze that cannot be made (the message says why, in Chinese)."""


def is_frozen(contest: Contest, now: datetime) -> bool:
    """Whether the public boards show the standings as of freeze_at: freeze_at is set and
    has come (now >= freeze_at, naive UTC) and the contest has not been unfrozen."""
    return contest.freeze_at is not None and now >= contest.freeze_at and contest.unfrozen_at is None


def frozen_at(contest: Contest, now: datetime) -> datetime | None:
    """The instant the public boards show (freeze_at) while frozen, else None (live): the
    as_of every public reader of quiz.leaderboard and quiz.units passes."""
    return contest.freeze_at if is_frozen(contest, now) else None


def unfreeze(session, contest: Contest, actor, now: datetime) -> bool:
    """Reveal the live standings at once (audited as contest.unfreeze; actor None = CLI).

    `contest` is attached to `session`. Raises NotFrozen when the contest is not frozen.
    Returns False when Redis was away (the public readers switch anyway; the frozen keys
    and cached pages are then left to expire or to the next rebuild)."""
    if contest.freeze_at is None:
        raise NotFrozen(f"竞赛 {contest.slug} 没有设置封榜时间（freeze_at）")
    if contest.unfrozen_at is not None:
        raise NotFrozen(f"竞赛 {contest.slug} 已于 {shown(contest.unfrozen_at)} 解封")
    if now < contest.freeze_at:
        raise NotFrozen(f"竞赛 {contest.slug} 尚未封榜（封榜时间 {shown(contest.freeze_at)}）")
    contest.unfrozen_at = now
    session.commit()
    audit(session, actor, "contest.unfreeze", f"{contest.slug} frozen_at={contest.freeze_at.isoformat()}")
    try:
        with fail_open("unfreeze"):
            leaderboard.drop_frozen(contest)
        return True
    except Unavailable:
        return False
