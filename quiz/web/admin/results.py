"""Results in the console: a filtered, paginated list of attempts and one citizen's attempts (paginated too).

Attempts of organizers and of staff or test accounts are listed here (labelled in the
pages), although no public board or export of standings counts them."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from quiz.i18n import _l
from quiz.models import ATTEMPT_ACTIVE, ROLE_CITY, Attempt, AttemptQuestion, Contest, User

PAGE_SIZE = 50


class PhoneFilterRefused(Exception):
    """Only city organizers may look results up by phone (the whole number or a part of it):
    against masked rows, a yes/no answer per number would unmask phones."""

    field = "phone"
    message = _l("Only city organizers may look results up by phone.")


def check_phone_filter(viewer, wanted: "ResultFilter") -> None:
    """Raise PhoneFilterRefused when viewer may not filter by phone and wanted does."""
    if wanted.phone and viewer.role != ROLE_CITY:
        raise PhoneFilterRefused(PhoneFilterRefused.message)


FULL_PHONE_DIGITS = 11


def phone_matches(digits: str):
    """WHERE clause of the accounts whose phone is `digits` (11 digits) or contains them (a part,
    at least 4 digits: the form checks the shape). Only digits reach LIKE, so no wildcard does."""
    if len(digits) == FULL_PHONE_DIGITS:
        return User.phone == digits
    if not digits.isdigit():
        raise ValueError("a phone filter is digits only")
    return User.phone.contains(digits, autoescape=True)


@dataclass
class ResultFilter:
    district: str | None = None
    group: str | None = None
    day: date | None = None
    score_min: int | None = None
    score_max: int | None = None
    phone: str | None = None


def find_results(session, contest: Contest, wanted: ResultFilter, page: int = 1) -> tuple[list[Attempt], int]:
    """A page of timed attempts (newest first) and the number that match.

    The caller narrows wanted.district to the organizer's own district first.
    """
    query = (select(Attempt).join(User, User.id == Attempt.user_id)
             .where(Attempt.contest_id == contest.id, Attempt.practice.is_(False)))
    if wanted.district:
        query = query.where(User.district == wanted.district)
    if wanted.group:  # a contest with groups: the group the attempt was taken in (quiz/groups.py)
        query = query.where((Attempt.group if contest.groups else User.group) == wanted.group)
    if wanted.day:
        query = query.where(Attempt.day == wanted.day.isoformat())
    if wanted.score_min is not None:
        query = query.where(Attempt.status != ATTEMPT_ACTIVE, Attempt.score >= wanted.score_min)
    if wanted.score_max is not None:
        query = query.where(Attempt.status != ATTEMPT_ACTIVE, Attempt.score <= wanted.score_max)
    if wanted.phone:
        query = query.where(phone_matches(wanted.phone))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    attempts = session.scalars(
        query.options(selectinload(Attempt.user)).order_by(Attempt.started_at.desc(), Attempt.id.desc())
        .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)
    ).all()
    return list(attempts), total


def citizen_attempts(session, citizen: User, contest: Contest, page: int = 1) -> tuple[list[Attempt], int]:
    """A page (PAGE_SIZE, newest first) of a citizen's attempts in the contest (practice too,
    marked), with questions and answers, and how many there are."""
    query = select(Attempt).where(Attempt.user_id == citizen.id, Attempt.contest_id == contest.id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    attempts = session.scalars(
        query.options(selectinload(Attempt.items).selectinload(AttemptQuestion.question))
        .order_by(Attempt.started_at.desc(), Attempt.id.desc())
        .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)
    ).all()
    return list(attempts), total


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))
