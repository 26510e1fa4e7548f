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
    """The contest the bare paths mean (/, /api/v1/contest, registration, /display): the one
    marked `featured: true` (the one that started last if several); else the open contest
    (the one that started last if several); else the next to open; else the one that ended last."""
    featured = session.scalar(
        select(Contest).where(Contest.featured.is_(True)).order_by(Contest.starts_at.desc()).limit(1))
    if featured:
        return featured
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


def contest_by_slug(session, slug: str) -> Contest | None:
    return session.scalar(select(Contest).where(Contest.slug == slug)) if isinstance(slug, str) else None


def contests_by_phase(session, now: datetime) -> dict[str, list[Contest]]:
    """Every contest under its phase: open ones by start (the newest first), upcoming by start
    (the soonest first), ended ones by end (the latest first): the home page's lists."""
    listed = {OPEN: [], UPCOMING: [], ENDED: []}
    for contest in session.scalars(select(Contest).order_by(Contest.starts_at.desc())):
        listed[phase(contest, now)].append(contest)
    listed[UPCOMING].reverse()
    listed[ENDED].sort(key=lambda c: c.ends_at, reverse=True)
    return listed
