"""Figures for the organizers' console: dashboard counts and question statistics.

Plain functions of a session, a contest and (for district organizers) a
district code; heavy counting happens in SQL, the arithmetic in small pure
functions that the tests check against hand-computed numbers.
Practice attempts never count, nor do the attempts of organizers and of accounts
marked staff or test (leaderboard.public_accounts): these figures are standings and
aggregates, and those accounts stay off every standing.
"""
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Text, case, cast, func, select

from quiz import figures
from quiz.clock import local, local_day
from quiz.models import Attempt, AttemptQuestion, Contest, Question, User

MIN_ANSWERS = 30  # below this a question's figures are too noisy to show
GROUP_SHARE = 0.27  # upper and lower groups of the discrimination index
LOW_CORRECT_RATE = 0.2
LOW_DISCRIMINATION = 0.2


def finished_attempts(contest: Contest, district: str | None = None):
    """WHERE clause of the attempts that count as 人次 (a query that joins users):
    quiz.figures.counted_attempts."""
    return figures.counted_attempts(contest, district)


def per_10k(participants: int, population: int) -> float:
    """Participants per 10,000 residents (0 for an unknown population)."""
    return participants * 10_000 / population if population else 0.0


# ---- dashboard --------------------------------------------------------------

@dataclass
class DistrictFigure:
    code: str
    name: str
    population: int
    participants: int
    attempts: int
    mean_score: float | None  # 平均分 (quiz.figures.average_score)

    @property
    def per_10k(self) -> float:
        """Participants per 10,000 residents."""
        return per_10k(self.participants, self.population)


@dataclass
class Dashboard:
    participants_today: int
    attempts_today: int
    participants_total: int
    attempts_total: int
    districts: list[DistrictFigure]
    score_buckets: list[tuple[str, int]]
    hourly: list[tuple[datetime, int]] = field(default_factory=list)  # (Asia/Shanghai hour, attempts)


def dashboard(session, contest: Contest, now: datetime, district: str | None = None) -> Dashboard:
    """The console's headline figures; a district organizer passes their district.
    参与人数 and 人次 are quiz.figures' (counted attempts), as on the boards and exports."""
    total = figures.overall(session, contest, district)
    today = figures.overall(session, contest, district, day=local_day(now))
    return Dashboard(
        participants_today=today.participants, attempts_today=today.attempts,
        participants_total=total.participants, attempts_total=total.attempts,
        districts=district_figures(session, contest, district),
        score_buckets=score_distribution(session, contest, district),
        hourly=hourly_attempts(session, contest, now, district),
    )


def district_figures(session, contest: Contest, district: str | None = None) -> list[DistrictFigure]:
    """Per district of the contest: quiz.figures' participants, attempts and 平均分
    (mean of the participants' best scores; None without participants)."""
    by_code = figures.by_district(session, contest, district)
    rows = []
    for d in contest.districts:
        if district is not None and d["code"] != district:
            continue
        found = by_code.get(d["code"], figures.Figures())
        rows.append(DistrictFigure(d["code"], d["name"], d["population"], found.participants, found.attempts,
                                   found.average_score))
    return rows


def score_buckets(pairs) -> list[tuple[str, int]]:
    """Ten buckets of the score as a share of the paper's maximum: 0–9%, …, 90–100%.

    pairs: (score, max_score, count) rows.
    """
    counts = [0] * 10
    for score, max_score, count in pairs:
        share = score / max_score if max_score else 0
        counts[min(9, int(share * 10))] += count
    labels = [f"{i * 10}–{i * 10 + 9}%" for i in range(9)] + ["90–100%"]
    return list(zip(labels, counts, strict=True))


def score_distribution(session, contest: Contest, district: str | None = None) -> list[tuple[str, int]]:
    rows = session.execute(
        select(Attempt.score, Attempt.max_score, func.count())
        .select_from(Attempt).join(User, User.id == Attempt.user_id)
        .where(finished_attempts(contest, district))
        .group_by(Attempt.score, Attempt.max_score)
    ).all()
    return score_buckets((score or 0, max_score or 0, count) for score, max_score, count in rows)


def hourly_attempts(session, contest: Contest, now: datetime, district: str | None = None) -> list[tuple[datetime, int]]:
    """人次 (counted attempts, quiz.figures) by the hour they started, over the contest window
    so far (Asia/Shanghai hours)."""
    hour = func.date_trunc("hour", Attempt.started_at)  # of the naive-UTC start
    rows = session.execute(
        select(hour, func.count()).select_from(Attempt).join(User, User.id == Attempt.user_id)
        .where(figures.counted_attempts(contest, district)).group_by(hour)
    ).all()
    counts = dict(rows)
    start = contest.starts_at.replace(minute=0, second=0, microsecond=0)
    end = min(contest.ends_at, max(now, start))
    hours = []
    moment = start
    while moment < end:
        hours.append((local(moment), counts.get(moment, 0)))
        moment += timedelta(hours=1)
    return hours


# ---- question statistics ----------------------------------------------------

def group_size(attempt_count: int) -> int:
    """How many attempts form the upper (and the lower) group: 27%, rounded, at least 1."""
    if attempt_count == 0:
        return 0
    return max(1, round(attempt_count * GROUP_SHARE))


def discrimination(upper_correct: int, upper_n: int, lower_correct: int, lower_n: int) -> float | None:
    """D = p_upper − p_lower; None when the question reached neither group."""
    if not upper_n or not lower_n:
        return None
    return upper_correct / upper_n - lower_correct / lower_n


def question_flags(correct_rate: float, discrimination_index: float | None) -> list[str]:
    flags = []
    if correct_rate < LOW_CORRECT_RATE:
        flags.append("low_correct_rate")
    if discrimination_index is not None and discrimination_index < LOW_DISCRIMINATION:
        flags.append("low_discrimination")
    return flags


def mean_seconds(durations: list[float]) -> float | None:
    return sum(durations) / len(durations) if durations else None


@dataclass
class QuestionFigure:
    question_id: int
    qid: str
    stem: str
    type: str
    category: str
    difficulty: int
    answer: list
    retired: bool
    answers: int  # times served in finished attempts (a blank counts as wrong)
    correct: int
    upper_n: int = 0
    upper_correct: int = 0
    lower_n: int = 0
    lower_correct: int = 0
    mean_seconds: float | None = None
    option_counts: dict = field(default_factory=dict)  # bank key -> times chosen; "" = left blank
    enough: bool = False

    @property
    def correct_rate(self) -> float:
        return self.correct / self.answers if self.answers else 0.0

    @property
    def discrimination(self) -> float | None:
        return discrimination(self.upper_correct, self.upper_n, self.lower_correct, self.lower_n)

    @property
    def flags(self) -> list[str]:
        return question_flags(self.correct_rate, self.discrimination) if self.enough else []


def question_statistics(session, contest: Contest, district: str | None = None,
                        min_answers: int = MIN_ANSWERS) -> list[QuestionFigure]:
    """Per question served in the contest's finished timed attempts.

    Upper and lower groups are the top and bottom 27% of those attempts by total
    score (ties broken by attempt id, so the groups never overlap). The time on
    a question is estimated from consecutive saves within an attempt: the gap
    between its save and the previous save (or the start, for the first).
    """
    where = finished_attempts(contest, district)
    ranked = (
        select(Attempt.id.label("attempt_id"),
               func.row_number().over(order_by=(Attempt.score.desc(), Attempt.id)).label("rank"))
        .select_from(Attempt).join(User, User.id == Attempt.user_id).where(where)
    ).subquery()
    attempt_count = session.scalar(select(func.count()).select_from(ranked)) or 0
    k = group_size(attempt_count)
    correct = case((AttemptQuestion.correct.is_(True), 1), else_=0)
    upper = ranked.c.rank <= k
    lower = ranked.c.rank > attempt_count - k
    rows = session.execute(
        select(AttemptQuestion.question_id, func.count(), func.sum(correct),
               func.sum(case((upper, 1), else_=0)), func.sum(case((upper, correct), else_=0)),
               func.sum(case((lower, 1), else_=0)), func.sum(case((lower, correct), else_=0)))
        .join(ranked, ranked.c.attempt_id == AttemptQuestion.attempt_id)
        .group_by(AttemptQuestion.question_id)
    ).all()
    if not rows:
        return []
    questions = {q.id: q for q in session.scalars(select(Question).where(Question.id.in_([r[0] for r in rows])))}
    figures = {}
    for qid, n, n_correct, u_n, u_c, l_n, l_c in rows:
        q = questions[qid]
        figures[qid] = QuestionFigure(
            question_id=qid, qid=q.qid, stem=q.stem, type=q.type, category=q.category, difficulty=q.difficulty,
            answer=list(q.answer), retired=q.retired, answers=n, correct=int(n_correct or 0),
            upper_n=int(u_n or 0), upper_correct=int(u_c or 0), lower_n=int(l_n or 0), lower_correct=int(l_c or 0),
            enough=n >= min_answers,
        )
    _add_option_counts(session, where, figures)
    _add_mean_seconds(session, where, figures)
    return sorted(figures.values(), key=lambda f: (not f.flags, -f.answers, f.qid))


def _add_option_counts(session, where, figures: dict) -> None:
    # Chosen keys are stored sorted, so their JSON text names each combination once.
    choice_text = cast(AttemptQuestion.choices, Text)
    rows = session.execute(
        select(AttemptQuestion.question_id, choice_text, func.count())
        .join(Attempt, Attempt.id == AttemptQuestion.attempt_id).join(User, User.id == Attempt.user_id)
        .where(where).group_by(AttemptQuestion.question_id, choice_text)
    ).all()
    for question_id, text, count in rows:
        counts = figures[question_id].option_counts
        for key in option_keys(text):
            counts[key] = counts.get(key, 0) + count


def option_keys(choices_text: str | None) -> list[str]:
    """Bank keys in a stored choices value; [""] for an unanswered question."""
    chosen = json.loads(choices_text) if choices_text else None
    return list(chosen) if chosen else [""]


def _add_mean_seconds(session, where, figures: dict) -> None:
    previous = func.coalesce(
        func.lag(AttemptQuestion.saved_at).over(partition_by=AttemptQuestion.attempt_id,
                                               order_by=(AttemptQuestion.saved_at, AttemptQuestion.id)),
        Attempt.started_at,
    )
    gaps = (
        select(AttemptQuestion.question_id.label("question_id"), AttemptQuestion.saved_at.label("saved_at"),
               previous.label("previous"))
        .join(Attempt, Attempt.id == AttemptQuestion.attempt_id).join(User, User.id == Attempt.user_id)
        .where(where, AttemptQuestion.saved_at.is_not(None))
    ).subquery()
    seconds = func.extract("epoch", gaps.c.saved_at - gaps.c.previous)
    for question_id, mean in session.execute(select(gaps.c.question_id, func.avg(seconds)).group_by(gaps.c.question_id)):
        if question_id in figures and mean is not None:
            figures[question_id].mean_seconds = float(mean)
