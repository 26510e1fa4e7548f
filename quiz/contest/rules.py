"""Contest-time rules as plain functions of a contest and a clock reading."""
from datetime import datetime

from sqlalchemy import select

from quiz.models import Contest

UPCOMING = "upcoming"
OPEN = "open"
ENDED = "ended"


def phase(contest: Contest, now: datetime) -> str:
    if now < contest.starts_at:
        return UPCOMING
    if now >= contest.ends_at:
        return ENDED
    return OPEN


def current_contest(session, now: datetime) -> Contest | None:
    """The open contest (the one that started last if several); else the next to
    open; else the one that ended last."""
    open_contest = session.scalar(
        select(Contest).where(Contest.starts_at <= now, Contest.ends_at > now)
        .order_by(Contest.starts_at.desc()).limit(1)
    )
    if open_contest:
        return open_contest
    upcoming = session.scalar(select(Contest).where(Contest.starts_at > now).order_by(Contest.starts_at).limit(1))
    if upcoming:
        return upcoming
    return session.scalar(select(Contest).order_by(Contest.ends_at.desc()).limit(1))
