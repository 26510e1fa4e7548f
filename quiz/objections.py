"""Objections to the 公示 (published winners list), and the organizers' answers.

The window: from awards_published_at for objection_days days (objection_deadline); after
it the list is final. A logged-in citizen files an objection about "self" (their own
result) or about one prize of the published list (its award id), at most
MAX_PER_CITIZEN per contest; organizers answer each one, and the answer is shown to the
citizen (/awards 我的异议, GET /api/v1/objections).
"""
from datetime import datetime, timedelta

from sqlalchemy import func, select

from quiz.accounts import mask_name, storable
from quiz.awards import published_award
from quiz.clock import local
from quiz.contest.errors import ContestError
from quiz.models import ROLE_CITIZEN, Contest, Objection, User
from quiz.web.audit import record as audit

ABOUT_SELF = "self"
MAX_TEXT = 1000
MAX_PER_CITIZEN = 5  # per contest: enough for real concerns, not a flood


class ObjectionWindowClosed(ContestError):
    code = "objection_window_closed"
    status = 409


class ObjectionLimitReached(ContestError):
    code = "objection_limit"
    status = 429


class InvalidObjection(ContestError):
    code = "invalid"
    status = 422

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class NotACitizen(ContestError):
    code = "forbidden"
    status = 403


def objection_deadline(contest: Contest) -> datetime | None:
    """When the 公示 ends: publication plus objection_days days (None before publication)."""
    if contest.awards_published_at is None:
        return None
    return contest.awards_published_at + timedelta(days=contest.objection_days)


def window_blocker(contest: Contest | None, now: datetime) -> str | None:
    """Why no objection can be filed now (None: the window is open)."""
    deadline = objection_deadline(contest) if contest is not None else None
    if deadline is None:
        return "获奖名单尚未公示，公示期内才能提出异议。"
    if now >= deadline:
        return f"公示期已于 {local(deadline).strftime('%Y-%m-%d %H:%M')} 结束，名单为最终结果，不再受理异议。"
    return None


def about_label(session, contest: Contest, about: str) -> str:
    """How an objection's subject reads: 本人成绩, or the prize and the winner's masked name."""
    if about == ABOUT_SELF:
        return "本人成绩"
    award_id = int(about.removeprefix("award:")) if about.startswith("award:") else None
    award = published_award(session, contest, award_id) if award_id else None
    if award is None:
        return about
    return f"{award.tier} 第 {award.position} 名 {mask_name(award.user.name)}"


def _about(session, contest: Contest, about) -> str:
    """"self", or "award:<id>" of a published prize of the contest; anything else is refused on `about`."""
    if about == ABOUT_SELF:
        return ABOUT_SELF
    text = about.removeprefix("award:") if isinstance(about, str) else about
    if isinstance(text, bool) or not isinstance(text, int | str) or not str(text).isascii() or not str(text).isdigit():
        raise InvalidObjection("about 应为 \"self\"（本人成绩）或公示名单中的获奖编号。", "about")
    award = published_award(session, contest, int(text)) if int(text) < 2**31 else None
    if award is None:
        raise InvalidObjection("公示名单中没有这个获奖编号。", "about")
    return f"award:{award.id}"


def file_objection(session, contest: Contest | None, user: User, about, text, now: datetime) -> Objection:
    """File an objection during the window (checks: window, about, text, the per-citizen limit)."""
    if user.role != ROLE_CITIZEN:
        raise NotACitizen("只有参赛市民可以提出异议。")
    blocker = window_blocker(contest, now)
    if blocker is not None:
        raise ObjectionWindowClosed(blocker)
    about = _about(session, contest, about)
    if not isinstance(text, str) or not text.strip():
        raise InvalidObjection("请填写异议内容。", "text")
    text = text.strip()
    if len(text) > MAX_TEXT or "\x00" in text or not storable(text, controls=True):
        raise InvalidObjection(f"异议内容最多 {MAX_TEXT} 个字，且不能含无效字符。", "text")
    filed = session.scalar(select(func.count()).select_from(Objection).where(
        Objection.contest_id == contest.id, Objection.user_id == user.id))
    if filed >= MAX_PER_CITIZEN:
        raise ObjectionLimitReached(f"每位市民最多提出 {MAX_PER_CITIZEN} 条异议。")
    objection = Objection(contest_id=contest.id, user_id=user.id, about=about, text=text, created_at=now)
    session.add(objection)
    session.commit()
    return objection


def own_objections(session, contest: Contest | None, user: User) -> list[Objection]:
    if contest is None:
        return []
    return list(session.scalars(select(Objection).where(
        Objection.contest_id == contest.id, Objection.user_id == user.id).order_by(Objection.id)))


def objections(session, contest: Contest, district: str | None = None) -> list[Objection]:
    """Every objection of the contest, unanswered first; `district`: filed by its citizens."""
    query = select(Objection).join(User, User.id == Objection.user_id).where(Objection.contest_id == contest.id)
    if district is not None:
        query = query.where(User.district == district)
    return list(session.scalars(query.order_by(Objection.answered_at.is_not(None), Objection.id)))


def answer_objection(session, objection: Objection, answer: str, now: datetime, actor=None) -> None:
    """The organizers' answer (1–1000 characters), shown to the citizen; a new answer replaces it."""
    answer = (answer or "").strip()
    if not answer:
        raise InvalidObjection("请填写答复内容。", "answer")
    if len(answer) > MAX_TEXT or "\x00" in answer or not storable(answer, controls=True):
        raise InvalidObjection(f"答复最多 {MAX_TEXT} 个字。", "answer")
    objection.answer, objection.answered_at = answer, now
    objection.answered_by = getattr(actor, "phone", None) or "cli"
    session.commit()
    audit(session, actor, "objection.answer", f"objection={objection.id} user={objection.user_id}")
