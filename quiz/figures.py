"""One set of figures: what 参与人数, 人次 and 平均分 mean, and how times and statuses are shown.

Every screen and export reads these definitions: the console overview and report
(quiz/stats.py, quiz/report.py), the district export (quiz/exports.py), the public
boards' aggregates (quiz/leaderboard.py keeps the same figures incrementally in Redis
and rebuilds them from this same SQL rule), /api/v1/districts and /display/data.

- A **counted attempt** is a finished (handed in or handed in automatically), timed (not
  practice) attempt of the contest by an account that counts in it
  (leaderboard.counted_accounts: a citizen, not marked staff or test, not disqualified).
  An attempt still running counts nowhere until it is handed in (quiz/finalizer.py hands
  in abandoned ones within seconds of their deadline).
- **参与人数 (participants)**: distinct citizens with at least one counted attempt.
  A citizen who closed their account (注销) stays counted: the figures are history.
- **人次 (attempts)**: counted attempts.
- **平均分 (average score)**: the mean of each participant's best score, rounded to
  2 decimals (`average_score`); no participants, no average (None, shown as "—").
- **Time used**: rounded to the nearest second (half up) and shown as m:ss
  (`time_used_text`: 1 960 ms is 0:02, 90 000 ms is 1:30); exports keep seconds as a number.
- **Status words**: `STATUS_NAMES` (已交卷 / 超时自动交卷 / 答题中).

"—" (`NO_DATA`) stands for a figure that does not exist (no participants, no time).
"""
from dataclasses import dataclass

from sqlalchemy import and_, func, select

from quiz.leaderboard import NO_DISTRICT, counted_accounts
from quiz.models import ATTEMPT_ACTIVE, ATTEMPT_EXPIRED, ATTEMPT_SUBMITTED, Attempt, Contest, User

NO_DATA = "—"
STATUS_NAMES = {ATTEMPT_SUBMITTED: "已交卷", ATTEMPT_EXPIRED: "超时自动交卷", ATTEMPT_ACTIVE: "答题中"}
AVERAGE_DIGITS = 2


def counted_attempts(contest: Contest, district: str | None = None, day: str | None = None):
    """WHERE clause of the counted attempts (a query that joins users): see the module
    docstring; optionally of one district and of one Asia/Shanghai day (Attempt.day)."""
    clauses = [Attempt.contest_id == contest.id, Attempt.practice.is_(False), Attempt.status != ATTEMPT_ACTIVE,
               *counted_accounts(contest)]
    if district is not None:
        clauses.append(User.district == district)
    if day is not None:
        clauses.append(Attempt.day == day)
    return and_(*clauses)


def average_score(best_sum: int | float, participants: int) -> float | None:
    """平均分: the mean of the participants' best scores, 2 decimals; None without participants.

    >>> average_score(220, 3)
    73.33
    >>> average_score(0, 0) is None
    True
    """
    return round(best_sum / participants, AVERAGE_DIGITS) if participants else None


@dataclass
class Figures:
    """参与人数, 人次 and the sum of the participants' best scores of some counted attempts."""

    participants: int = 0
    attempts: int = 0
    best_sum: int = 0

    @property
    def average_score(self) -> float | None:
        return average_score(self.best_sum, self.participants)


def by_district(session, contest: Contest, district: str | None = None, day: str | None = None) -> dict[str, Figures]:
    """District code ("-" for none) -> Figures of the counted attempts, in one query."""
    per_citizen = (
        select(User.district.label("district"), func.count().label("attempts"), func.max(Attempt.score).label("best"))
        .select_from(Attempt).join(User, User.id == Attempt.user_id)
        .where(counted_attempts(contest, district, day)).group_by(User.id, User.district).subquery()
    )
    rows = session.execute(select(per_citizen.c.district, func.count(), func.sum(per_citizen.c.attempts),
                                  func.sum(per_citizen.c.best)).group_by(per_citizen.c.district)).all()
    return {(code or NO_DISTRICT): Figures(n, int(attempts or 0), int(best or 0)) for code, n, attempts, best in rows}


def overall(session, contest: Contest, district: str | None = None, day: str | None = None) -> Figures:
    """The Figures of the city (or of one district), optionally of one day."""
    total = Figures()
    for figures in by_district(session, contest, district, day).values():
        total.participants += figures.participants
        total.attempts += figures.attempts
        total.best_sum += figures.best_sum
    return total


# ---- how figures are shown ----------------------------------------------------

def shown(value) -> str:
    """A figure as text, "—" when there is none."""
    return NO_DATA if value is None or value == "" else str(value)


def average_text(value: float | None) -> str:
    """平均分 as every screen prints it: 2 decimals, "—" without participants."""
    return NO_DATA if value is None else f"{value:.{AVERAGE_DIGITS}f}"


def board_average_text(row: dict) -> str:
    """平均分 of a board's district row (quiz.leaderboard.district_rows, whose average_score
    stays 0 without participants in the API) as text: "—" without participants."""
    return average_text(row["average_score"] if row["participants"] else None)


def time_used_seconds(ms: int | None) -> int | None:
    """Time used in whole seconds, rounded to the nearest (half up): the one rounding rule."""
    return None if ms is None else (int(ms) + 500) // 1000


def time_used_text(ms: int | None) -> str:
    """Time used as m:ss after time_used_seconds ("—" when unknown).

    >>> time_used_text(1960), time_used_text(90_000), time_used_text(600_000)
    ('0:02', '1:30', '10:00')
    """
    seconds = time_used_seconds(ms)
    if seconds is None:
        return NO_DATA
    return f"{seconds // 60}:{seconds % 60:02d}"


def status_name(status: str) -> str:
    """已交卷 / 超时自动交卷 / 答题中 for an attempt's status."""
    return STATUS_NAMES.get(status, status)
