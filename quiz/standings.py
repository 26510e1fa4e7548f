"""Final standings: one row per citizen, their best attempt by the contest's order.

The order is the leaderboard's (quiz/leaderboard.py, docs/leaderboard.md): higher score,
then less time used, then the earlier finish and then the earlier first attempt (both to the
second after the contest start), then the smaller user id, so every rank is unique and a
prize "ranks 1-10" is ten people. Who counts is leaderboard.counted_accounts: citizens
on the public boards, not disqualified in the contest; closed accounts (注销) keep their
results in the aggregates but are not ranked, as on the boards.

Rows stream from a server-side cursor, so 200,000 citizens fit in little memory
(bench/export.py).
"""
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Integer, and_, cast, extract, func, select

from quiz.leaderboard import counted_accounts
from quiz.models import ATTEMPT_ACTIVE, Attempt, Contest, User

BATCH = 2000


class Standing(NamedTuple):
    rank: int  # in the city, from 1, unique
    district_rank: int  # in the citizen's district, from 1, unique
    user_id: int
    name: str
    phone: str
    district: str | None  # code
    township: str | None  # code
    unit: str | None
    group: str | None
    score: int
    max_score: int
    time_used_ms: int
    finished_at: datetime  # of the best attempt (naive UTC)
    attempts: int  # finished timed attempts of the contest


def _ranked(contest: Contest, finished_by: datetime | None = None):
    """A subquery of Standing's columns, ranked; finished_by keeps only attempts finished by then."""
    finish_s = cast(func.floor(extract("epoch", Attempt.finished_at - contest.starts_at)), Integer)
    start_s = cast(func.floor(extract("epoch", Attempt.started_at - contest.starts_at)), Integer)
    where = [Attempt.contest_id == contest.id, Attempt.practice.is_(False), Attempt.status != ATTEMPT_ACTIVE,
             User.closed_at.is_(None), *counted_accounts(contest)]
    if finished_by is not None:
        where.append(Attempt.finished_at <= finished_by)
    per_citizen = (
        select(Attempt.user_id, Attempt.score, Attempt.max_score, Attempt.time_used_ms, Attempt.finished_at,
               finish_s.label("finish_s"), Attempt.group.label("attempt_group"),
               func.row_number().over(partition_by=Attempt.user_id,
                                      order_by=(Attempt.score.desc(), Attempt.time_used_ms, finish_s, Attempt.id)
                                      ).label("nth"),
               func.count().over(partition_by=Attempt.user_id).label("attempts"),
               func.min(start_s).over(partition_by=Attempt.user_id).label("first_s"))
        .join(User, User.id == Attempt.user_id)
        .where(and_(*where))
        .subquery()
    )
    order = (per_citizen.c.score.desc(), per_citizen.c.time_used_ms, per_citizen.c.finish_s,
             per_citizen.c.first_s, per_citizen.c.user_id)
    return (
        select(func.row_number().over(order_by=order).label("rank"),
               func.row_number().over(partition_by=User.district, order_by=order).label("district_rank"),
               per_citizen.c.user_id, User.name, User.phone, User.district, User.township, User.unit,
               # A contest with groups: the group code of the best attempt (quiz/groups.py); else the 人群 text.
               (per_citizen.c.attempt_group if contest.groups else User.group).label("group"),
               per_citizen.c.score, per_citizen.c.max_score, per_citizen.c.time_used_ms, per_citizen.c.finished_at,
               per_citizen.c.attempts)
        .join(User, User.id == per_citizen.c.user_id)
        .where(per_citizen.c.nth == 1)
        .subquery()
    )


def final_standings(session, contest: Contest, district: str | None = None,
                    finished_by: datetime | None = None, limit: int | None = None) -> Iterator[Standing]:
    """The standings in rank order; `district` keeps that district's rows (with their city rank)."""
    ranked = _ranked(contest, finished_by)
    query = select(ranked).order_by(ranked.c.rank)
    if district is not None:
        query = query.where(ranked.c.district == district)
    if limit is not None:
        query = query.limit(limit)
    for row in session.execute(query.execution_options(yield_per=BATCH)):
        yield Standing(*row)


def standing_of(session, contest: Contest, user_id: int) -> Standing | None:
    """One citizen's row of final_standings (None: no counted finished attempt)."""
    ranked = _ranked(contest)
    row = session.execute(select(ranked).where(ranked.c.user_id == user_id)).first()
    return Standing(*row) if row else None


def best_score_of(session, contest: Contest, user_id: int) -> int | None:
    """The citizen's best score as final_standings counts it (None: not in the standings),
    without ranking everyone: what a certificate needs on each visit to 我的."""
    return session.scalar(
        select(func.max(Attempt.score)).join(User, User.id == Attempt.user_id)
        .where(Attempt.user_id == user_id, Attempt.contest_id == contest.id, Attempt.practice.is_(False),
               Attempt.status != ATTEMPT_ACTIVE, User.closed_at.is_(None), *counted_accounts(contest)))

