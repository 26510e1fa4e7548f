"""The unit board (优秀组织奖) and full-score counts, computed in SQL.

A participant is a citizen on the public boards (leaderboard.public_accounts) with at
least one finished timed attempt of the contest. Their best score is their highest
score; they count as "full" (满分) when a finished attempt of theirs scored its paper's
maximum (score = max_score > 0). That rule is written once, in `_participants`, and
both the unit board and the districts' full-score ranking read it.
"""
import json
from datetime import datetime

from sqlalchemy import Float, and_, cast, func, select

from quiz import leaderboard
from quiz.models import ATTEMPT_ACTIVE, Attempt, Contest, User


def _participants(contest: Contest, as_of: datetime | None = None):
    """One row per participant: user_id, unit_code, district, attempts (人次), best, full;
    with as_of (a frozen board) only attempts finished by then."""
    cutoff = (Attempt.finished_at <= as_of,) if as_of is not None else ()
    return (
        select(User.id.label("user_id"), User.unit_code, User.district,
               func.count().label("attempts"), func.max(Attempt.score).label("best"),
               func.bool_or(and_(Attempt.max_score > 0, Attempt.score == Attempt.max_score)).label("full"))
        .select_from(Attempt).join(User, User.id == Attempt.user_id)
        .where(Attempt.contest_id == contest.id, Attempt.practice.is_(False), Attempt.status != ATTEMPT_ACTIVE,
               *leaderboard.counted_accounts(contest), *cutoff)
        .group_by(User.id, User.unit_code, User.district)
        .subquery()
    )


def participants(contest: Contest):
    """The participants subquery (one row per participant, see the module docstring) for
    other figures of the same people, such as the summary report's districts."""
    return _participants(contest)


def unit_board(session, contest: Contest, district: str | None = None, as_of: datetime | None = None) -> list[dict]:
    """The contest's listed units (of one district, or all), each with participants, attempts
    (人次: finished timed attempts), average_score (mean of the participants' best scores,
    2 decimals) and full_score_rate (share of participants with a full score, 0–1, 4 decimals);
    ordered by participants (more first), then code. Units nobody joined show zeros."""
    listed = [u for u in (contest.units or []) if district is None or u["district"] == district]
    if not listed:
        return []
    p = _participants(contest, as_of)
    rows = session.execute(
        select(p.c.unit_code, func.count(), func.sum(p.c.attempts), func.avg(cast(p.c.best, Float)),
               func.count().filter(p.c.full))
        .where(p.c.unit_code.in_([u["code"] for u in listed]))
        .group_by(p.c.unit_code)
    ).all()
    figures = {code: (n, int(attempts), float(mean), full) for code, n, attempts, mean, full in rows}
    board = []
    for u in listed:
        n, attempts, mean, full = figures.get(u["code"], (0, 0, 0.0, 0))
        board.append({"code": u["code"], "name": u["name"], "district": u["district"], "participants": n,
                      "attempts": attempts, "average_score": round(mean, 2) if n else 0,
                      "full_score_rate": round(full / n, 4) if n else 0})
    board.sort(key=lambda row: (-row["participants"], row["code"]))
    return board


def unit_board_json(session, contest: Contest, district: str | None = None, as_of: datetime | None = None) -> bytes:
    """unit_board as {"units": [...], "frozen", "frozen_at"}, shared by every app host for LEADERBOARD_CACHE_MS
    (one copy per district of the contest, and one of all units); raises Unavailable
    only when Redis fails too."""
    build = lambda: {"units": unit_board(session, contest, district, as_of)} | leaderboard.frozen_fields(as_of)  # noqa: E731
    try:
        return leaderboard.cached_json(contest, f"units:{district or 'all'}", build, as_of)
    except leaderboard.Unavailable:
        return json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode()


def district_full_scores(session, contest: Contest, as_of: datetime | None = None) -> dict[str, int]:
    """District code -> participants with a full score ("-" for no district)."""
    p = _participants(contest, as_of)
    rows = session.execute(select(p.c.district, func.count().filter(p.c.full)).group_by(p.c.district)).all()
    return {(code or leaderboard.NO_DISTRICT): full for code, full in rows}


def district_full_scores_cached(session, contest: Contest, as_of: datetime | None = None) -> dict[str, int]:
    """district_full_scores, shared by every host for LEADERBOARD_CACHE_MS (the displays ask
    every second); raises Unavailable when Redis fails."""
    return json.loads(leaderboard.cached_json(contest, "full-scores",
                                              lambda: district_full_scores(session, contest, as_of), as_of))


def district_standings(session, contest: Contest, as_of: datetime | None = None) -> list[dict]:
    """leaderboard.districts with the full-score counts its ranking needs when the contest
    ranks districts by full_score_rate (what the API and the displays show). Raises
    leaderboard.Unavailable. With as_of: the frozen figures (attempts finished by then)."""
    full = district_full_scores_cached(session, contest, as_of) if leaderboard.rank_by(contest) == "full_score_rate" else None
    return leaderboard.districts(contest, full, as_of)
