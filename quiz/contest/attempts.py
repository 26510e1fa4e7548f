"""Attempts: drawing a paper, saving answers, grading and submitting.

Every function takes the session, the citizen and `now` explicitly, so the
rules are tested with a clock instead of sleeping. SQL is committed first;
the leaderboard is told afterwards, in `tell_leaderboard` only.
"""
import random
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from quiz import hot_sql, leaderboard
from quiz.accounts import TokenHolder, token_digest
from quiz.bank.importer import latest_bank
from quiz.clock import local_day
from quiz.contest.definition import question_points, row_matches
from quiz.contest.errors import (
    AttemptNotFound,
    AttemptsExhausted,
    ContestClosed,
    ContestError,
    DailyLimitReached,
    DeadlinePassed,
    InvalidAnswer,
)
from quiz.contest.rules import OPEN, UPCOMING, phase
from quiz.models import (
    ATTEMPT_ACTIVE,
    Attempt,
    AttemptQuestion,
    Contest,
    Question,
    User,
)

GRACE = timedelta(seconds=2)  # network grace after the deadline for saves
DISPLAY_KEYS = "ABCDEFGH"


def display_options(item: AttemptQuestion) -> list[dict]:
    """Options as this attempt shows them: relabelled A, B, … in the shuffled order."""
    texts = dict(item.question.options)
    return [{"key": DISPLAY_KEYS[i], "text": texts[bank_key]} for i, bank_key in enumerate(item.option_order)]


def to_display(item: AttemptQuestion, bank_keys) -> list[str]:
    if item.question.type == "judge":
        return list(bank_keys or [])
    position = {bank_key: DISPLAY_KEYS[i] for i, bank_key in enumerate(item.option_order)}
    return sorted(position[k] for k in bank_keys or [] if k in position)


def to_bank_keys(item_type: str, option_order: list, display_choices) -> list[str]:
    if not isinstance(display_choices, list) or not all(isinstance(c, str) for c in display_choices):
        raise InvalidAnswer("choices must be a list of option keys")
    if item_type == "judge":
        if len(display_choices) != 1 or display_choices[0] not in ("true", "false"):
            raise InvalidAnswer('a judge answer is ["true"] or ["false"]')
        return list(display_choices)
    keys = DISPLAY_KEYS[: len(option_order)]
    if any(c not in keys for c in display_choices) or len(set(display_choices)) != len(display_choices):
        raise InvalidAnswer(f"choices must be option keys among {', '.join(keys)}")
    if item_type == "single" and len(display_choices) > 1:
        raise InvalidAnswer("a single-choice question takes one key")
    return sorted(option_order[keys.index(c)] for c in display_choices)


# ---- starting -------------------------------------------------------------

def active_attempt(session, user: User, contest: Contest, practice: bool = False) -> Attempt | None:
    return session.scalar(
        select(Attempt).where(
            Attempt.user_id == user.id, Attempt.contest_id == contest.id,
            Attempt.status == ATTEMPT_ACTIVE, Attempt.practice.is_(practice),
        ).order_by(Attempt.id.desc()).limit(1)
    )


def attempt_counts(session, user, contest: Contest, now: datetime) -> tuple[int, int]:
    """(attempts started today in Asia/Shanghai, attempts started in total); practice excluded."""
    return _today_and_total(hot_sql.run(session, hot_sql.ATTEMPTS_BY_DAY,
                                        {"user_id": user.id, "contest_id": contest.id}), now)


def _today_and_total(day_counts, now: datetime) -> tuple[int, int]:
    today = local_day(now)
    return sum(n for day, n in day_counts if day == today), sum(n for _, n in day_counts)


def holder_and_counts(engine, token: str, contest: Contest, now: datetime) -> tuple[TokenHolder, int, int] | None:
    """(holder, attempts today, attempts in total) of an unexpired token in one statement on
    the direct pool (PostgreSQL), or None for an unknown or expired token."""
    rows = hot_sql.direct_rows(engine, hot_sql.HOLDER_ATTEMPTS_BY_DAY, {
        "token_hash": token_digest(token), "now": now, "contest_id": contest.id})
    if not rows:
        return None
    today, total = _today_and_total([(row.day, row.n) for row in rows if row.day is not None], now)
    return TokenHolder(rows[0].id, rows[0].name, rows[0].district, rows[0].role), today, total


def start_attempt(session, user: User, contest: Contest, now: datetime, rng: random.Random | None = None) -> tuple[Attempt, bool]:
    """Resume the citizen's active attempt or start a new one: (attempt, created)."""
    finalize_user_expired(session, user, now)
    current = active_attempt(session, user, contest)
    if current is not None:
        return current, False
    blocker = start_blocker(session, user, contest, now)
    if blocker is not None:
        raise blocker
    attempt = _create_attempt(session, user, contest, now, practice=False, rng=rng)
    try:
        session.commit()
    except IntegrityError:  # another device started one at the same moment: resume it
        session.rollback()
        current = active_attempt(session, user, contest)
        if current is None:
            raise
        return current, False
    return attempt, True


def start_blocker(session, user: User, contest: Contest, now: datetime) -> ContestError | None:
    """Why the citizen may not start a new timed attempt now (the error to raise), or None.

    Checked in this order: the contest window, the total limit, then the daily limit
    (counted per Asia/Shanghai calendar day of the start)."""
    state = phase(contest, now)
    if state != OPEN:
        when = "尚未开始" if state == UPCOMING else "已经结束"
        return ContestClosed(f"竞赛{when}，现在不能答题。")
    today, total = attempt_counts(session, user, contest, now)
    if total >= contest.max_attempts:
        return AttemptsExhausted(f"您已用完全部 {contest.max_attempts} 次答题机会。")
    if today >= contest.attempts_per_day:
        return DailyLimitReached(f"今天的 {contest.attempts_per_day} 次答题机会已用完，请明天再来。")
    return None


def start_practice(session, user: User, contest: Contest, now: datetime, rng: random.Random | None = None) -> tuple[Attempt, bool]:
    """Untimed practice at any time; never counts toward limits or rankings."""
    current = active_attempt(session, user, contest, practice=True)
    if current is not None:
        return current, False
    attempt = _create_attempt(session, user, contest, now, practice=True, rng=rng)
    session.commit()
    return attempt, True


def _create_attempt(session, user, contest, now, practice, rng) -> Attempt:
    rng = rng or random.SystemRandom()
    bank = latest_bank(session, contest.bank_slug)
    pool = session.scalars(select(Question).where(Question.bank_id == bank.id, Question.retired.is_(False))).all()
    seen = set() if practice else served_qids(session, user, contest)
    questions = draw_paper(pool, contest.paper, contest.questions_per_attempt, seen, rng)
    attempt = Attempt(
        user_id=user.id, contest_id=contest.id, practice=practice, status=ATTEMPT_ACTIVE,
        day=local_day(now), started_at=now,
        deadline=None if practice else now + timedelta(seconds=contest.time_limit_s),
        question_count=len(questions),
    )
    session.add(attempt)
    session.flush()
    for position, question in enumerate(questions):
        order = [key for key, _ in question.options]
        rng.shuffle(order)
        session.add(AttemptQuestion(
            attempt_id=attempt.id, question_id=question.id, position=position, option_order=order,
            points=question_points(question, contest.points),
        ))
    session.flush()
    session.refresh(attempt)
    return attempt


def served_qids(session, user: User, contest: Contest) -> set[str]:
    return set(session.scalars(
        select(Question.qid).join(AttemptQuestion, AttemptQuestion.question_id == Question.id)
        .join(Attempt, Attempt.id == AttemptQuestion.attempt_id)
        .where(Attempt.user_id == user.id, Attempt.contest_id == contest.id, Attempt.practice.is_(False))
    ))


def draw_paper(pool: list, rows: list, count: int, seen: set, rng: random.Random) -> list:
    """Rows first, in order and without repeats, then the rest at random; questions the
    citizen has not been served come first wherever the bank allows. Shuffled at the end."""
    chosen: list = []
    taken: set = set()

    def pick(candidates, n):
        fresh = [q for q in candidates if q.qid not in seen and q.id not in taken]
        stale = [q for q in candidates if q.qid in seen and q.id not in taken]
        rng.shuffle(fresh)
        rng.shuffle(stale)
        picked = (fresh + stale)[:n]
        taken.update(q.id for q in picked)
        chosen.extend(picked)

    for row in rows:
        pick([q for q in pool if row_matches(row, q)], row["count"])
    pick(pool, count - len(chosen))
    rng.shuffle(chosen)
    return chosen


# ---- answering ------------------------------------------------------------

MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns: a larger number would be a database error, not "not found"


def is_attempt_id(attempt_id) -> bool:
    try:
        _attempt_id(attempt_id)
    except AttemptNotFound:
        return False
    return True


def _attempt_id(attempt_id) -> int:
    try:
        value = int(attempt_id)
    except (TypeError, ValueError):
        raise AttemptNotFound("没有这次答题记录。") from None
    if not 1 <= value <= MAX_ID:
        raise AttemptNotFound("没有这次答题记录。")
    return value


def get_attempt(session, user: User, attempt_id) -> Attempt:
    """The citizen's own attempt; anyone else's is not found."""
    attempt = _load_whole(session, _attempt_id(attempt_id))
    if attempt is None or attempt.user_id != user.id:
        raise AttemptNotFound("没有这次答题记录。")
    return attempt


def _load_whole(session, attempt_id: int) -> Attempt | None:
    """The attempt with its contest, citizen, items and questions in three queries
    (a result page or API answer reads all of them; lazy loads would cost ~25)."""
    return session.scalar(
        select(Attempt).where(Attempt.id == attempt_id)
        .options(joinedload(Attempt.contest), joinedload(Attempt.user),
                 selectinload(Attempt.items).selectinload(AttemptQuestion.question))
        .execution_options(populate_existing=True)
    )


def save_answer(session, user, attempt_id, qid: str, display_choices, now: datetime) -> None:
    """Save one answer (last save wins) until the deadline plus the grace."""
    save_answers(session, user, attempt_id, {qid: display_choices}, now)


def save_answers(session, user, attempt_id, answers: dict, now: datetime) -> int:
    """Save several answers {qid: display choices} in one transaction, all or none.

    `user` is a User or an accounts.TokenHolder (only its id is read). Accepted until
    the deadline plus GRACE while the attempt is active. The attempt row is locked first
    (PostgreSQL; SQLite serialises writers anyway) so a concurrent submit grades either
    before this save (which is then refused) or after it.
    """
    attempt_id = _attempt_id(attempt_id)
    try:
        found = hot_sql.run(session, hot_sql.SAVE_LOOKUP,
                            {"attempt_id": attempt_id, "qids": [str(q) for q in answers]})
        head = found[0] if found else None
        if head is None or head.user_id != user.id:
            raise AttemptNotFound("没有这次答题记录。")
        if head.status != ATTEMPT_ACTIVE:
            raise DeadlinePassed("这次答题已经交卷，不能再修改答案。")
        if head.deadline is not None and now > head.deadline + GRACE:
            raise DeadlinePassed("答题时间已到，答案未保存。")
        rows = {row.qid: row for row in found if row.item_id is not None}
        values = []
        for qid, display_choices in answers.items():
            row = rows.get(qid)
            if row is None:
                raise InvalidAnswer(f"question {qid} is not in this attempt", field="question_id")
            values.append({"item_id": row.item_id, "attempt_id": attempt_id, "now": now,
                           "choices": to_bank_keys(row.type, row.option_order, display_choices)})
        if values:
            hot_sql.run(session, hot_sql.SAVE_CHOICES, values)
        hot_sql.commit(session)
    except Exception:
        session.rollback()  # release the row lock before the error travels up
        raise
    return len(values)


_PLAIN_KEYS = frozenset(DISPLAY_KEYS) | {"true", "false"}


def checkable_in_sql(display_choices) -> bool:
    """Choices SAVE_BY_TOKEN checks by itself: distinct display keys, or true/false. Anything
    else takes save_answer, whose to_bank_keys names the problem."""
    return (isinstance(display_choices, list) and len(display_choices) <= len(DISPLAY_KEYS)
            and all(isinstance(c, str) and c in _PLAIN_KEYS for c in display_choices)
            and len(set(display_choices)) == len(display_choices))


def save_answer_by_token(engine, token: str, attempt_id, qid: str, display_choices: list, now: datetime) -> bool:
    """save_answer in one statement on the direct pool (PostgreSQL), checking the token too,
    grouped with the saves that arrive meanwhile (hot_sql.save_by_token): False when the
    token is unknown or expired. `display_choices` passed checkable_in_sql."""
    row = hot_sql.save_by_token(engine, save_values(token, attempt_id, qid, display_choices, now))
    return save_outcome(row, qid, display_choices, now)


def save_values(token: str, attempt_id, qid: str, display_choices: list, now: datetime) -> dict:
    """The parameters of SAVE_BY_TOKEN (one row of SAVE_BATCH_BY_TOKEN) for one save."""
    return {"token_hash": token_digest(token), "now": now, "cutoff": now - GRACE,
            "attempt_id": _attempt_id(attempt_id), "qid": str(qid), "display": display_choices}


def save_outcome(row, qid: str, display_choices: list, now: datetime) -> bool:
    """True when SAVE_BY_TOKEN's row says saved, False for an unknown or expired token; else
    raises what save_answer would raise for the same save."""
    if row.saved:
        return True
    if row.user_id is None:
        return False
    # Refused: the same checks in the same order as save_answers, to name what failed.
    if row.status is None:
        raise AttemptNotFound("没有这次答题记录。")
    if row.status != ATTEMPT_ACTIVE:
        raise DeadlinePassed("这次答题已经交卷，不能再修改答案。")
    if row.deadline is not None and now > row.deadline + GRACE:
        raise DeadlinePassed("答题时间已到，答案未保存。")
    if row.item_id is None:
        raise InvalidAnswer(f"question {qid} is not in this attempt", field="question_id")
    to_bank_keys(row.type, row.option_order, display_choices)  # raises the precise InvalidAnswer
    raise InvalidAnswer("choices were not accepted")  # pragma: no cover - the SQL and Python checks agree


# ---- grading and submitting ---------------------------------------------

@dataclass
class PaperQuestion:
    qid: str
    type: str
    stem: str
    options: list
    answer: list
    explanation: str


@dataclass
class PaperItem:
    id: int
    option_order: list
    choices: list | None
    correct: bool | None
    points: int
    question: PaperQuestion


@dataclass
class Graded:
    """A finished attempt as its submit read it from SQL: what the result, the review and the
    leaderboard need (the same attribute names as Attempt, without an ORM load)."""
    id: int
    user_id: int
    contest_id: int
    practice: bool
    status: str
    started_at: datetime
    deadline: datetime | None
    finished_at: datetime
    auto_submitted: bool
    question_count: int
    score: int | None = None
    max_score: int | None = None
    correct_count: int | None = None
    time_used_ms: int | None = None
    items: list = field(default_factory=list)
    rank: dict | None = None  # set by tell_leaderboard when the board told it

    finished = True


def grade(item) -> bool:
    """Single and judge exact; multiple all-or-nothing."""
    return bool(item.choices) and sorted(item.choices) == sorted(item.question.answer)


def _paper(session, attempt_id: int) -> list[PaperItem]:
    return [
        PaperItem(row.id, row.option_order, row.choices, row.correct, row.points,
                  PaperQuestion(row.qid, row.type, row.stem, row.options, row.answer, row.explanation))
        for row in hot_sql.run(session, hot_sql.PAPER, {"attempt_id": attempt_id})
    ]


def submit_attempt(session, user, attempt_id, now: datetime, auto: bool = False,
                   contest: Contest | None = None) -> Graded:
    """Grade and finish the attempt in one transaction; repeating it returns the same result.

    `user` is a User or an accounts.TokenHolder (id, name and district are read);
    `contest` saves a look-up when the caller already has the attempt's contest.
    """
    return _finish(session, user, _attempt_id(attempt_id), now, auto, contest)


def _finish(session, user, attempt_id: int, now: datetime, auto: bool, contest: Contest | None = None) -> Graded:
    try:
        claimed = hot_sql.first(session, hot_sql.CLAIM, {
            "attempt_id": attempt_id, "user_id": user.id, "auto": bool(auto), "now": now, "cutoff": now - GRACE,
        })
        if claimed is None:  # not theirs, not found, or already finished (maybe by a concurrent submit)
            session.rollback()
            graded = _already_finished(session, user, attempt_id)
            tell_leaderboard(session, graded, user, contest)  # idempotent: repairs a board missed by a crash
            return graded
        graded = Graded(**claimed._asdict())
        # Read after the claim: every save that got the row lock before it is in this snapshot.
        graded.items = _paper(session, attempt_id)
        for item in graded.items:
            item.correct = grade(item)
        graded.score = sum(item.points for item in graded.items if item.correct)
        graded.max_score = sum(item.points for item in graded.items)
        graded.correct_count = sum(1 for item in graded.items if item.correct)
        graded.time_used_ms = max(0, (graded.finished_at - graded.started_at) // timedelta(milliseconds=1))
        hot_sql.run(session, hot_sql.RECORD_SCORE, {
            "attempt_id": attempt_id, "score": graded.score, "max_score": graded.max_score,
            "correct_count": graded.correct_count, "time_used_ms": graded.time_used_ms,
        })
        if graded.items:
            hot_sql.run(session, hot_sql.MARK_CORRECT, {
                "attempt_id": attempt_id, "correct_ids": [item.id for item in graded.items if item.correct] or [0],
            })
        hot_sql.commit(session)
    except Exception:
        session.rollback()
        raise
    tell_leaderboard(session, graded, user, contest)
    return graded


def submit_by_token(engine, session, token: str, attempt_id, now: datetime,
                    contest: Contest | None = None) -> tuple[Graded, TokenHolder] | None:
    """submit_attempt on the direct pool (PostgreSQL): the token check, the claim and the
    grading in one transaction and one round trip (grouped with the submits that arrive
    meanwhile: hot_sql.submit_by_token), then the leaderboard. None when nothing was
    claimed (bad token, not theirs, already finished): the caller then takes the session
    path (api_token_holder, submit_attempt), which says which and repeats old results."""
    attempt_id = _attempt_id(attempt_id)
    claimed, paper = hot_sql.submit_by_token(engine, {
        "token_hash": token_digest(token), "attempt_id": attempt_id, "auto": False, "now": now, "cutoff": now - GRACE})
    if not claimed:
        return None
    head = claimed[0]._asdict()
    holder = TokenHolder(head["user_id"], head.pop("name"), head.pop("district"), head.pop("role"))
    totals = paper[0]
    graded = Graded(**head, score=totals.score, max_score=totals.max_score, correct_count=totals.correct_count,
                    time_used_ms=int(totals.time_used_ms))
    verdicts = [row for row in paper if row.id is not None]  # GRADE's totals row alone: no items
    questions = _questions(engine, {row.question_id for row in verdicts})
    graded.items = [PaperItem(row.id, row.option_order, row.choices, row.correct, row.points,
                              questions[row.question_id]) for row in verdicts]
    tell_leaderboard(session, graded, holder, contest)
    return graded, holder


# Per direct engine: question id -> PaperQuestion. Question rows are never changed once
# imported (a new bank version adds rows), so what was read once stays right; a submit
# then reads only its verdicts back, not twenty stems, option lists and explanations.
_question_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
QUESTION_CACHE_MAX = 20_000


def _questions(engine, ids: set[int]) -> dict[int, PaperQuestion]:
    known = _question_cache.setdefault(engine, {})
    missing = [i for i in ids if i not in known]
    if missing:
        if len(known) + len(missing) > QUESTION_CACHE_MAX:
            known.clear()  # rare: a process that served more questions than any bank holds
            missing = list(ids)
        for row in hot_sql.direct_rows(engine, hot_sql.QUESTIONS_BY_ID, {"ids": missing}):
            known[row.id] = PaperQuestion(row.qid, row.type, row.stem, row.options, row.answer, row.explanation)
    return known


def _already_finished(session, user, attempt_id: int) -> Graded:
    head = hot_sql.first(session, hot_sql.FINISHED_HEAD, {"attempt_id": attempt_id})
    if head is None or head.user_id != user.id or head.status == ATTEMPT_ACTIVE:
        raise AttemptNotFound("没有这次答题记录。")
    graded = Graded(**head._asdict())
    graded.items = _paper(session, attempt_id)
    hot_sql.commit(session)  # end the read transaction
    return graded


def contest_of(session, graded: Graded, known: Contest | None = None) -> Contest:
    """The attempt's contest: `known` when it is that one (e.g. the cached current contest)."""
    if known is not None and known.id == graded.contest_id:
        return known
    return session.get(Contest, graded.contest_id)


def tell_leaderboard(session, graded: Graded, user, contest: Contest | None) -> None:
    """Record the attempt on the boards; graded.rank is then the citizen's {city, district}
    rank when the board could say it in the same call (else None: ask rank_or_none)."""
    if graded.practice:
        return
    recorded, graded.rank = leaderboard.record_and_rank(contest_of(session, graded, contest), graded, user)
    if not recorded:
        # Redis is away: remember it in SQL so the catch-up adds it later.
        hot_sql.run(session, hot_sql.MARK_BOARD_PENDING, {"attempt_id": graded.id})
        hot_sql.commit(session)


def finalize_user_expired(session, user: User, now: datetime) -> int:
    expired = session.scalars(
        select(Attempt.id).where(Attempt.user_id == user.id, Attempt.status == ATTEMPT_ACTIVE,
                                 Attempt.deadline.is_not(None), Attempt.deadline < now - GRACE)
    ).all()
    for attempt_id in expired:
        _finish(session, user, attempt_id, now, auto=True)
    return len(expired)


def finalize_expired(session, now: datetime, batch: int = 500) -> int:
    """Finish every attempt whose deadline (plus grace) passed without a submit."""
    done = 0
    while True:
        expired = session.execute(
            select(Attempt.id, Attempt.user_id).where(
                Attempt.status == ATTEMPT_ACTIVE, Attempt.deadline.is_not(None), Attempt.deadline < now - GRACE,
            ).limit(batch)
        ).all()
        if not expired:
            return done
        owners = {user.id: user for user in session.scalars(select(User).where(User.id.in_({r.user_id for r in expired})))}
        for attempt_id, user_id in expired:
            _finish(session, owners[user_id], attempt_id, now, auto=True)
            done += 1


def seconds_left(attempt: Attempt, now: datetime) -> int | None:
    if attempt.deadline is None:
        return None
    return max(0, int((attempt.deadline - now).total_seconds()))


JUDGE_OPTIONS = (("true", "正确"), ("false", "错误"))


def with_questions(session, attempt: Attempt) -> Attempt:
    """Load the attempt's items and their questions in two queries instead of one per question."""
    session.scalars(
        select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt.id).options(selectinload(AttemptQuestion.question))
    ).all()
    return attempt


def shown_options(item: AttemptQuestion) -> list[dict]:
    """The options as the citizen saw them: judge questions as 正确/错误 with keys true/false."""
    if item.question.type == "judge":
        return [{"key": key, "text": text} for key, text in JUDGE_OPTIONS]
    return display_options(item)


def review(attempt: Attempt, with_options: bool = True) -> list[dict]:
    """Each question of a finished attempt as the citizen saw it, with the choice, the answer
    and the explanation. Only for finished attempts: it carries the answer keys."""
    if not attempt.finished:
        raise ValueError("the review of an active attempt would reveal the answers")
    rows = []
    for item in attempt.items:
        choices = to_display(item, item.choices)
        answer = to_display(item, item.question.answer)
        row = {
            "id": item.question.qid, "type": item.question.type, "stem": item.question.stem,
            "choices": choices, "correct_choices": answer, "correct": bool(item.correct),
            "explanation": item.question.explanation,
        }
        if with_options:
            row["points"] = item.points
            row["options"] = [{**option, "chosen": option["key"] in choices, "answer": option["key"] in answer}
                              for option in shown_options(item)]
        rows.append(row)
    return rows


def result_payload(attempt: Attempt, rank: dict | None) -> dict:
    """The result as the API and the result page show it, in the order the citizen saw."""
    return {
        "score": attempt.score, "max_score": attempt.max_score, "correct_count": attempt.correct_count,
        "question_count": attempt.question_count, "time_used_ms": attempt.time_used_ms,
        "auto_submitted": attempt.auto_submitted, "rank": rank, "review": review(attempt, with_options=False),
    }


def best_from_sql(session, user: User, contest: Contest) -> dict | None:
    """The citizen's best result straight from SQL (when Redis is away)."""
    row = session.execute(
        select(Attempt.score, Attempt.time_used_ms).where(
            Attempt.user_id == user.id, Attempt.contest_id == contest.id, Attempt.practice.is_(False),
            Attempt.status != ATTEMPT_ACTIVE,
        ).order_by(Attempt.score.desc(), Attempt.time_used_ms, Attempt.finished_at).limit(1)
    ).first()
    return {"score": row.score, "time_used_ms": row.time_used_ms} if row else None
