"""Attempts: drawing a paper, saving answers, grading and submitting.

Every function takes the session, the citizen and `now` explicitly, so the
rules are tested with a clock instead of sleeping. SQL is committed first;
the leaderboard is told afterwards, in `tell_leaderboard` only.
"""
import logging
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from quiz import groups, leaderboard
from quiz.accounts import Caller, TokenHolder, storable, token_digest
from quiz.bank.importer import latest_bank
from quiz.clock import local, local_day
from quiz.contest import attempt_sql, paper, question_clock, question_rows
from quiz.contest.attempt_sql import DISPLAY_KEYS
from quiz.contest.definition import question_points, row_matches
from quiz.contest.errors import (
    AttemptNotFound,
    AttemptsExhausted,
    ContestClosed,
    ContestError,
    DailyLimitReached,
    DeadlinePassed,
    InvalidAnswer,
    NotSignedIn,
    PracticeClosed,
    PracticeDuringAttempt,
    PracticeLimitReached,
)
from quiz.contest.question_rows import PaperQuestion
from quiz.contest.rules import OPEN, UPCOMING, phase
from quiz.db import direct
from quiz.db.batching import batcher_for
from quiz.models import (
    ATTEMPT_ACTIVE,
    Attempt,
    AttemptQuestion,
    Contest,
    User,
)

log = logging.getLogger(__name__)
GRACE = timedelta(seconds=2)  # network grace after the deadline for saves and hand-ins


def display_options(item: AttemptQuestion) -> list[dict]:
    """Options as this attempt shows them: relabelled A, B, … in the shuffled order."""
    texts = dict(item.question.options)
    return [{"key": DISPLAY_KEYS[i], "text": texts[bank_key]} for i, bank_key in enumerate(item.option_order)]


def to_display(item: AttemptQuestion, bank_keys) -> list[str]:
    if item.question.type == "judge":
        return list(bank_keys or [])
    position = {bank_key: DISPLAY_KEYS[i] for i, bank_key in enumerate(item.option_order)}
    return sorted(position[k] for k in bank_keys or [] if k in position)


# ---- starting -------------------------------------------------------------

def active_attempt(session, user: User, contest: Contest, practice: bool = False) -> Attempt | None:
    return session.scalar(
        select(Attempt).where(
            Attempt.user_id == user.id, Attempt.contest_id == contest.id,
            Attempt.status == ATTEMPT_ACTIVE, Attempt.practice.is_(practice),
        ).order_by(Attempt.id.desc()).limit(1)
    )


@dataclass(frozen=True)
class Allowance:
    """A citizen's timed attempts in a contest: started today (Asia/Shanghai calendar day)
    and in total, practice excluded, and how many more they may start today and in all."""
    today: int
    total: int
    left_today: int
    left_total: int


def allowance(contest: Contest, day_counts, now: datetime) -> Allowance:
    """The Allowance from [(day, attempts started that day), ...]: the one attempts-left rule."""
    day = local_day(now)
    today = sum(n for d, n in day_counts if d == day)
    total = sum(n for _, n in day_counts)
    left_total = max(0, contest.max_attempts - total)
    return Allowance(today, total, min(max(0, contest.attempts_per_day - today), left_total), left_total)


def attempt_allowance(session, user, contest: Contest, now: datetime) -> Allowance:
    rows = direct.rows(direct.pool_for(session), attempt_sql.ATTEMPTS_BY_DAY,
                       {"user_id": user.id, "contest_id": contest.id})
    return allowance(contest, [(row.day, row.n) for row in rows], now)


def holder_allowance(session, token: str, contest: Contest, now: datetime) -> tuple[TokenHolder, Allowance] | None:
    """(holder, Allowance) of an unexpired token in one statement, or None for an unknown or
    expired token (GET /api/v1/me)."""
    rows = direct.rows(direct.pool_for(session), attempt_sql.HOLDER_ATTEMPTS_BY_DAY, {
        "token_hash": token_digest(token), "now": now, "contest_id": contest.id})
    if not rows:
        return None
    holder = TokenHolder(rows[0].id, rows[0].name, rows[0].district, rows[0].role)
    return holder, allowance(contest, [(row.day, row.n) for row in rows if row.day is not None], now)


def start_attempt(session, user: User, contest: Contest, now: datetime, rng: random.Random | None = None,
                  address: str | None = None) -> tuple[Attempt, bool]:
    """begin_attempt with the attempt loaded whole (items and questions) for pages and the CLI."""
    attempt, created = begin_attempt(session, user, contest, now, rng, address)
    return _load_whole(session, attempt.id), created


def begin_attempt(session, user: User, contest: Contest, now: datetime, rng: random.Random | None = None,
                  address: str | None = None) -> tuple["Attempt | Started", bool]:
    """Resume the citizen's active attempt or start a new one: (attempt, created), the attempt
    as a Started (what the start's answer shows: no answers); `address` (the client's) is
    stored with a new attempt for the review flags.

    Starts of one citizen in one contest take turns (attempt_sql.START_TURN, held until the
    commit) and count the limits inside their turn, so N simultaneous starts make one
    attempt (the others resume it) and a start racing a hand-in never exceeds the limits.
    An active attempt whose time ran out is handed in first (the citizen's expired attempts,
    finalize_user_expired), then the start takes its turn again."""
    begun = _begin_in_turn(session, user, contest, now, rng, address, hand_in_expired=True)
    if begun is None:
        finalize_user_expired(session, user, now)  # (or the sweep handed it in meanwhile)
        begun = _begin_in_turn(session, user, contest, now, rng, address, hand_in_expired=False)
    return begun


def _begin_in_turn(session, user: User, contest: Contest, now: datetime, rng, address,
                   hand_in_expired: bool) -> tuple["Attempt | Started", bool] | None:
    """One turn of begin_attempt: (attempt, created), or None when the active attempt's time
    ran out and `hand_in_expired`. A new start is one transaction on a direct connection in
    three round trips: BEGIN with the turn and START_STATE, the draw, INSERT_PAPER with the
    COMMIT; a resuming one two: the same BEGIN, then ACTIVE_PAPER with the COMMIT. It never
    waits on the session: no caller holds uncommitted attempts there."""
    values = {"user_id": user.id, "contest_id": contest.id}
    engine = direct.pool_for(session)
    try:
        with direct.transaction(engine) as tx:
            state = tx.begin([(attempt_sql.START_TURN, values), (attempt_sql.START_STATE, values)])[1][0]
            blocker = resumed = None
            expired = state.active_deadline is not None and state.active_deadline < cutoff(now)
            if state.active_id is None:
                blocker = start_blocker(session, user, contest, now,
                                        day_counts=[tuple(pair) for pair in state.days or []])
                if blocker is None:
                    return _insert_paper(session, user, contest, now, practice=False, rng=rng, address=address,
                                         seen=set(state.served), tx=tx), True
            elif not (expired and hand_in_expired):  # running, or made by a start that took its turn first
                resumed = tx.finish([(attempt_sql.ACTIVE_PAPER, {"attempt_id": state.active_id})])[0][0]
            # (otherwise the block's end COMMITs the read-only transaction: the turn ends)
    except IntegrityError:  # an attempt inserted without taking a turn: resume it
        current = active_attempt(session, user, contest)
        if current is None:
            raise
        return _load_whole(session, current.id), False
    if blocker is not None:
        raise blocker
    if resumed is None:
        return None  # its time ran out: hand it in first
    return _resumed(engine, resumed), False


def _resumed(engine, head) -> "Started":
    """A Started of the active attempt ACTIVE_PAPER read, its questions from the process's
    cache (copies without the answer and the explanation)."""
    items = head.items or []
    questions = question_rows.by_id(engine, {item[1] for item in items})
    started = Started(id=head.id, **{name: getattr(head, name) for name in _STARTED_COLUMNS})
    for item_id, question_id, option_order, choices, points in items:
        question = questions[question_id]
        started.items.append(PaperItem(item_id, option_order, choices, None, points, PaperQuestion(
            question.qid, question.type, question.stem, question.options, None, None)))
    return started


def _take_turn(session, user, contest: Contest) -> None:
    """Wait until this citizen's other starts in this contest have committed; the turn lasts
    until the session's transaction ends (see attempt_sql.START_TURN)."""
    _in_session(session, attempt_sql.START_TURN, {"contest_id": contest.id, "user_id": user.id})


def _in_session(session, statement, values: dict) -> list:
    """A statement of attempt_sql run in the session's transaction (the start's turn)
    instead of as its own transaction on the direct pool: the same SQL, the same rule."""
    return session.connection().exec_driver_sql(statement.sql, values).all()


def start_blocker(session, user: User, contest: Contest, now: datetime, in_turn: bool = False,
                  day_counts: list | None = None) -> ContestError | None:
    """Why the citizen may not start a new timed attempt now (the error to raise), or None.

    Checked in this order: the contest window, the total limit, then the daily limit
    (counted per Asia/Shanghai calendar day of the start). `in_turn`: the caller holds the
    start's turn, so the attempts are counted in its transaction (pages count on the
    direct pool); `day_counts`: [(day, n), ...] the caller counted in its turn."""
    state = phase(contest, now)
    if state != OPEN:
        when = "尚未开始" if state == UPCOMING else "已经结束"
        return ContestClosed(f"竞赛{when}，现在不能答题。")
    if day_counts is not None:
        counts = allowance(contest, day_counts, now)
    elif in_turn:
        rows = _in_session(session, attempt_sql.ATTEMPTS_BY_DAY, {"user_id": user.id, "contest_id": contest.id})
        counts = allowance(contest, [(row.day, row.n) for row in rows], now)
    else:
        counts = attempt_allowance(session, user, contest, now)
    if counts.left_total == 0:
        return AttemptsExhausted(f"您已用完全部 {contest.max_attempts} 次答题机会。")
    if counts.left_today == 0:
        return DailyLimitReached(f"今天的 {contest.attempts_per_day} 次答题机会已用完，请明天再来。")
    return None


def practice_opens_at(contest: Contest) -> datetime | None:
    """When practice opens; None: at any time, on the contest's practice bank. Without a
    practice bank it is 赛后练习 on the contest's own bank, opening once no timed attempt
    can save any more: the end of the window plus the time limit and GRACE (an attempt
    started just before the end runs on after it)."""
    if contest.practice_bank_slug:
        return None
    return contest.ends_at + timedelta(seconds=contest.time_limit_s) + GRACE


def practice_blocker(session, user: User, contest: Contest, now: datetime, per_day: int,
                     in_turn: bool = False) -> ContestError | None:
    """Why the citizen may not start a practice paper now (the error to raise), or None.

    Checked in this order: practice closed (practice_opens_at), a timed attempt running,
    `per_day` practice papers (PRACTICE_PER_DAY) already started this Asia/Shanghai day in
    this contest. `in_turn` as for start_blocker."""
    opens = practice_opens_at(contest)
    if opens is not None and now < opens:
        state = phase(contest, now)
        if state == UPCOMING:
            return PracticeClosed("竞赛尚未开始，练习暂未开放。")
        if state == OPEN:
            return PracticeClosed("竞赛进行中，练习暂停；竞赛结束后开放赛后练习。")
        return PracticeClosed(f"赛后练习将于 {local(opens):%m月%d日 %H:%M} 开放。")
    if active_attempt(session, user, contest) is not None:
        return PracticeDuringAttempt("您有正在进行的正式答题，交卷后才能练习。")
    values = {"user_id": user.id, "contest_id": contest.id, "day": local_day(now)}
    today = _in_session(session, attempt_sql.PRACTICE_ON_DAY, values) if in_turn else \
        direct.rows(direct.pool_for(session), attempt_sql.PRACTICE_ON_DAY, values)
    if today[0].n >= per_day:
        return PracticeLimitReached(f"今天的 {per_day} 次练习机会已用完，请明天再来。")
    return None


def start_practice(session, user: User, contest: Contest, now: datetime, rng: random.Random | None = None, *,
                   per_day: int) -> tuple[Attempt, bool]:
    """Resume the citizen's practice paper or start one (practice_blocker says when not):
    untimed, never counted toward the limits or the boards. Starts take turns with the
    citizen's other starts in the contest, as in start_attempt."""
    finalize_user_expired(session, user, now)
    current = active_attempt(session, user, contest, practice=True)
    if current is not None:
        return current, False
    _take_turn(session, user, contest)
    current = active_attempt(session, user, contest, practice=True)
    if current is not None:  # a simultaneous start made it while this one waited its turn
        session.commit()
        return current, False
    blocker = practice_blocker(session, user, contest, now, per_day, in_turn=True)
    if blocker is not None:
        session.rollback()  # ends the turn
        raise blocker
    started = _insert_paper(session, user, contest, now, practice=True, rng=rng)
    session.commit()
    return _load_whole(session, started.id), True


def paper_bank_id(session, contest: Contest, practice: bool) -> int | None:
    """The bank version a paper is drawn from: the version the contest is pinned to
    (contest.bank_id, set by its import); practice: the newest version of the practice
    bank when the contest names one."""
    if practice and contest.practice_bank_slug:
        bank = latest_bank(session, contest.practice_bank_slug)
        return bank.id if bank is not None else None
    return contest.bank_id


@dataclass
class Started:
    """A new attempt as its start inserted it: what the start's answer shows (the same
    attribute names as Attempt; its items are PaperItems whose questions carry no answer)."""
    id: int
    user_id: int
    contest_id: int
    practice: bool
    day: str
    started_at: datetime
    deadline: datetime | None
    question_count: int
    started_from: str | None
    question_time_s: int | None
    question_position: int | None
    question_served_at: datetime | None
    group: str | None
    items: list = field(default_factory=list)

    status = ATTEMPT_ACTIVE
    finished = False


# A Started's stored columns (besides id): what INSERT_PAPER writes and ACTIVE_PAPER reads back.
_STARTED_COLUMNS = ("user_id", "contest_id", "practice", "day", "started_at", "deadline", "question_count",
                    "started_from", "question_time_s", "question_position", "question_served_at", "group")


def _insert_paper(session, user, contest, now, practice, rng, address: str | None = None,
                  seen: set = frozenset(), tx: direct.Transaction | None = None) -> Started:
    """Draw the paper (`seen`: the qids served before, empty for practice) and insert the
    attempt and its items in one statement (attempt_sql.INSERT_PAPER), in the session's
    transaction, or in `tx` and committing it; each item shows its options in its own
    shuffled order."""
    # Seeded from the OS for each paper: as unpredictable as SystemRandom for the few draws one
    # paper shows, without a system call for each of its ~80 draws.
    rng = rng or random.Random(secrets.randbits(128))
    group = None if practice else groups.attempt_group(contest, user)  # its board and its paper rules
    bank_id = paper_bank_id(session, contest, practice)
    questions = paper.draw_paper(session, bank_id, groups.paper_of(contest, group), contest.questions_per_attempt, seen, rng,
                                 tx=tx)
    started = Started(
        id=0, user_id=user.id, contest_id=contest.id, practice=practice, day=local_day(now), started_at=now,
        deadline=None if practice else now + timedelta(seconds=contest.time_limit_s),
        question_count=len(questions), started_from=address[:45] if address else None,
        question_time_s=None, question_position=None, question_served_at=None, group=group,
    )
    if contest.question_time_s and not practice:  # practice stays untimed, the whole paper at once
        started.question_time_s, started.question_position, started.question_served_at = contest.question_time_s, 0, now
        started.deadline = question_clock.first_deadline(now, len(questions), contest.question_time_s,
                                                         contest.time_limit_s)
    rows = []
    for position, question in enumerate(questions):
        order = list(question.keys)
        rng.shuffle(order)
        rows.append({"question_id": question.id, "position": position, "option_order": order,
                     "points": question_points(question, contest.points)})
    values = {name: getattr(started, name) for name in _STARTED_COLUMNS}
    values["items"] = orjson.dumps(rows).decode()
    inserted = tx.finish([(attempt_sql.INSERT_PAPER, values)])[0] if tx is not None else \
        _in_session(session, attempt_sql.INSERT_PAPER, values)
    started.id = inserted[0].attempt_id
    started.items = [
        PaperItem(item_id, item["option_order"], None, None, item["points"],
                  PaperQuestion(question.qid, question.type, question.stem, question.options, None, None))
        for item_id, item, question in zip(inserted[0].item_ids, rows, questions, strict=True)]
    return started


def served_qids(session, user: User, contest: Contest) -> set[str]:
    return {row.qid for row in _in_session(session, attempt_sql.SERVED_QIDS,
                                           {"user_id": user.id, "contest_id": contest.id})}


def draw_paper(pool: list, rows: list, count: int, seen: set, rng: random.Random) -> list:
    """The paper rule of quiz/contest/paper.py stated over an in-memory pool, for the bank
    lint's checks and the tests (starts run paper.draw_paper in SQL). Rows first, in order
    and without repeats, then the rest at random; questions the citizen has not been served
    come first wherever the bank allows. Shuffled at the end."""
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
MAX_CHOICES = 64  # shape bounds of a choices list; which keys are allowed is SAVE's rule
MAX_CHOICE_LENGTH = 32


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


def cutoff(now: datetime) -> datetime:
    """An attempt is late at `now` when its deadline is before cutoff(now): the deadline
    plus GRACE, for the network. Every statement that asks compares with this."""
    return now - GRACE


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


def _choices_shape(display_choices) -> list:
    """Only the shape is checked here: a list of short strings; whether they are keys of
    the question is SAVE's rule."""
    if not isinstance(display_choices, list) or len(display_choices) > MAX_CHOICES or not all(
            isinstance(c, str) and len(c) <= MAX_CHOICE_LENGTH and storable(c) for c in display_choices):
        raise InvalidAnswer("choices must be a list of option keys")
    return display_choices


def _save_row(caller: Caller, attempt_id: int, qid, display_choices, now: datetime) -> dict:
    if not isinstance(qid, str) or len(qid) > 100 or not storable(qid):
        raise InvalidAnswer(f"question {qid} is not in this attempt", field="question_id")
    return {"user_id": caller.user_id, "token_hash": caller.token_hash, "attempt_id": attempt_id, "qid": qid,
            "display": _choices_shape(display_choices), "now": now, "cutoff": cutoff(now)}


def _save_values(saves: list[dict], all_or_none: bool = False) -> dict:
    return {"saves": orjson.dumps(saves).decode(), "all_or_none": all_or_none}


def _refusal(row, qid: str) -> Exception:
    """The error for a SAVE verdict other than saved."""
    if row.verdict == "unauthorized":
        return NotSignedIn("需要有效的访问令牌。")
    if row.verdict == "not_found":
        return AttemptNotFound("没有这次答题记录。")
    if row.verdict == "finished":
        return DeadlinePassed("这次答题已经交卷，不能再修改答案。")
    if row.verdict == "late":
        return DeadlinePassed("答题时间已到，答案未保存。")
    if row.verdict == "no_question":
        return InvalidAnswer(f"question {qid} is not in this attempt", field="question_id")
    if row.verdict == "question_left":
        return DeadlinePassed("这道题的答题时间已过或已离开，答案未保存。")
    if row.verdict == "not_served":
        return InvalidAnswer(f"question {qid} has not been served yet", field="question_id")
    if row.verdict == "not_judge":
        return InvalidAnswer('a judge answer is ["true"] or ["false"]')
    if row.verdict == "one_key":
        return InvalidAnswer("a single-choice question takes one key")
    return InvalidAnswer(f"choices must be option keys among {', '.join(DISPLAY_KEYS[:row.option_count or 0])}")


def save_answer(session, user, attempt_id, qid: str, display_choices, now: datetime) -> None:
    """Save one answer (last save wins) while the attempt is active and not late.

    `user` is a User, a TokenHolder or a Caller (a bearer token is checked by the save
    itself). Saves that arrive while another batch of this process is at the database go
    with the next batch: one statement and one commit for all of them, each with its own
    verdict."""
    save = _save_row(Caller.of(user), _attempt_id(attempt_id), qid, display_choices, now)
    row = batcher_for(direct.pool_for(session), "save", _save_batch, SAVE_BATCH_MAX).call(save)
    if row.verdict != "saved":
        raise _refusal(row, qid)


def save_answers(session, user, attempt_id, answers: dict, now: datetime) -> int:
    """Save several answers {qid: display choices} of one attempt in one transaction, all
    or none (the page form without JavaScript sends every answer at once)."""
    caller, attempt_id = Caller.of(user), _attempt_id(attempt_id)
    saves = [_save_row(caller, attempt_id, qid, choices, now) for qid, choices in answers.items()]
    if not saves:
        return 0

    rows = direct.rows(direct.pool_for(session), attempt_sql.SAVE, _save_values(saves, all_or_none=True))
    for row, qid in zip(rows, answers, strict=True):
        if row.verdict != "saved":
            raise _refusal(row, qid)
    return len(saves)


SAVE_BATCH_MAX = 64
SUBMIT_BATCH_MAX = 32


def _save_batch(engine, saves: list[dict]) -> list:
    try:
        return direct.rows(engine, attempt_sql.SAVE, _save_values(saves))
    except DBAPIError as exc:
        if len(saves) == 1:
            raise
        return _one_by_one(engine, lambda e, save: direct.rows(e, attempt_sql.SAVE, _save_values([save]))[0],
                           saves, "saves", exc)


def _one_by_one(engine, run_one, items: list[dict], what: str, failure: DBAPIError) -> list:
    """After a failed batch: one item's trouble (a deadlock with another batch, say) must
    not fail the others, so each runs alone and gets its own outcome or exception."""
    # The error's class and SQLSTATE only: PostgreSQL's message can quote a phone or a name.
    log.warning("a batch of %d %s failed (%s, SQLSTATE %s); running them one by one", len(items), what,
                type(failure.orig).__name__, getattr(failure.orig, "sqlstate", None))
    results = []
    for values in items:
        try:
            results.append(run_one(engine, values))
        except DBAPIError as exc:
            results.append(exc)
    return results


# ---- handing in ---------------------------------------------------------

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
    holder: TokenHolder | None = None  # whose attempt: what the leaderboard records
    group: str | None = None  # the attempt's contest group (its board)
    rank: dict | None = None  # set by tell_leaderboard when the board told it

    finished = True


_HEAD = ("id", "user_id", "contest_id", "practice", "status", "started_at", "deadline", "finished_at",
         "auto_submitted", "question_count", "group")


def submit_attempt(session, user, attempt_id, now: datetime, auto: bool = False,
                   contest: Contest | None = None) -> Graded:
    """Hand in: claim, grade and record the attempt in one transaction (CLAIM then GRADE),
    then tell the leaderboard. Repeating it returns the same result.

    `user` is a User, a TokenHolder or a Caller; `auto` marks the finalizer's hand-in of an
    abandoned attempt; `contest` saves a look-up when the caller has the attempt's contest.
    Hand-ins that arrive while another batch of this process is at the database go with the
    next batch (one message, one commit)."""
    caller, attempt_id = Caller.of(user), _attempt_id(attempt_id)
    engine = direct.pool_for(session)
    values = {"user_id": caller.user_id, "token_hash": caller.token_hash, "attempt_id": attempt_id,
              "auto": bool(auto), "now": now, "cutoff": cutoff(now)}
    claimed, paper = batcher_for(engine, "submit", _submit_batch, SUBMIT_BATCH_MAX).call(values)
    if not claimed:  # a bad token, not theirs, or already finished (maybe by a concurrent submit)
        graded = _already_finished(engine, values)
    else:
        head = claimed[0]
        graded = Graded(**{name: getattr(head, name) for name in _HEAD},
                        holder=TokenHolder(head.user_id, head.name, head.district, head.role, head.staff))
        totals = paper[0]
        graded.score, graded.max_score, graded.correct_count = totals.score, totals.max_score, totals.correct_count
        graded.time_used_ms = int(totals.time_used_ms)
        graded.items = _items(engine, [row for row in paper if row.id is not None])  # totals alone: no items
    tell_leaderboard(session, graded, contest)  # idempotent: a repeat repairs a board missed by a crash
    return graded


def _submit_steps(values: dict) -> list:
    return [(attempt_sql.CLAIM, values), (attempt_sql.GRADE, {"attempt_id": values["attempt_id"]})]


def _submit_batch(engine, submits: list[dict]) -> list:
    """(CLAIM's rows, GRADE's rows) for each submit, in one transaction, claims in ascending
    attempt id; after a failed batch each runs alone."""
    order = sorted(range(len(submits)), key=lambda i: submits[i]["attempt_id"])
    try:
        rows = direct.script(engine, [step for i in order for step in _submit_steps(submits[i])])
    except DBAPIError as exc:
        if len(submits) == 1:
            raise
        return _one_by_one(engine, lambda e, values: tuple(direct.script(e, _submit_steps(values))),
                           submits, "submits", exc)
    results = [None] * len(submits)
    for k, i in enumerate(order):
        results[i] = (rows[2 * k], rows[2 * k + 1])
    return results


def _already_finished(engine, values: dict) -> Graded:
    head = direct.first(engine, attempt_sql.FINISHED, values)
    if head.caller_id is None:
        raise NotSignedIn("需要有效的访问令牌。")
    if head.id is None or head.status == ATTEMPT_ACTIVE:
        raise AttemptNotFound("没有这次答题记录。")
    graded = Graded(**{name: getattr(head, name) for name in _HEAD}, score=head.score, max_score=head.max_score,
                    correct_count=head.correct_count, time_used_ms=head.time_used_ms,
                    holder=TokenHolder(head.user_id, head.name, head.district, head.role, head.staff))
    graded.items = _items(engine, direct.rows(engine, attempt_sql.VERDICTS, {"attempt_id": head.id}))
    return graded


def _items(engine, verdicts: list) -> list[PaperItem]:
    questions = question_rows.by_id(engine, {row.question_id for row in verdicts})
    return [PaperItem(row.id, row.option_order, row.choices, row.correct, row.points, questions[row.question_id])
            for row in verdicts]


def contest_of(session, graded: Graded, known: Contest | None = None) -> Contest:
    """The attempt's contest: `known` when it is that one (e.g. the cached current contest)."""
    if known is not None and known.id == graded.contest_id:
        return known
    return session.get(Contest, graded.contest_id)


def tell_leaderboard(session, graded: Graded, contest: Contest | None) -> None:
    """Record the attempt on the boards; graded.rank is then the citizen's {city, district}
    rank when the board could say it in the same call (else None: ask rank_or_none)."""
    if graded.practice:
        return
    recorded, graded.rank = leaderboard.record_and_rank(contest_of(session, graded, contest), graded, graded.holder)
    if not recorded:
        # Redis is away: remember it in SQL so the catch-up adds it later.
        direct.rows(direct.pool_for(session), attempt_sql.MARK_BOARD_PENDING, {"attempt_id": graded.id})


def finalize_user_expired(session, user, now: datetime) -> int:
    """Hand in the citizen's attempts whose time ran out (when they come back)."""
    return _finalize(session, now, Caller.of(user).user_id)


def finalize_expired(session, now: datetime, batch: int = 500) -> int:
    """Hand in every attempt whose deadline (plus grace) passed without a submit."""
    return _finalize(session, now, None, batch)


def _finalize(session, now: datetime, user_id: int | None, batch: int = 500) -> int:
    engine = direct.pool_for(session)
    done = 0
    while True:
        expired = direct.rows(engine, attempt_sql.EXPIRED if user_id is None else attempt_sql.EXPIRED_OF_USER,
                              {"cutoff": cutoff(now), "user_id": user_id, "batch": batch})
        for row in expired:
            submit_attempt(session, Caller(user_id=row.user_id), row.id, now, auto=True)
        done += len(expired)
        if len(expired) < batch:
            return done


def next_question(session, user, attempt_id, now: datetime, leaving: int | None = None, auto: bool = False) -> Attempt:
    """Move a per-question attempt on to its next question (question_clock.move_on); on the
    last question, hand in. `leaving` (0-based) is the question the citizen saw: when it is
    no longer the current one (a repeated 下一题, or its time ran out) nothing moves. Returns
    the attempt as it is now; a finished attempt is returned as it is. `auto`: the hand-in
    is the page countdown's (countdown_hand_in)."""
    attempt = get_attempt(session, user, attempt_id)
    if attempt.finished:
        return attempt
    shown = question_clock.current(attempt, now)
    if shown is None:
        raise ContestError("这次答题不是逐题计时，没有下一题。")
    if leaving is not None and leaving != shown.position:
        return attempt
    move = question_clock.move_on(attempt, shown, now)
    if move is None or attempt.deadline < cutoff(now):  # the last question, or the attempt's time is up
        submit_attempt(session, user, attempt.id, now, auto=auto)
    else:
        direct.rows(direct.pool_for(session), attempt_sql.MOVE_ON, {
            "attempt_id": attempt.id, "user_id": attempt.user_id, "position": move.position,
            "served_at": move.served_at, "deadline": move.deadline,
            "from_position": attempt.question_position, "from_served_at": attempt.question_served_at})
    return get_attempt(session, user, attempt.id)


def countdown_hand_in(attempt, asked: bool, now: datetime) -> bool:
    """Whether a hand-in the page's countdown sent (`asked`) counts as automatic: only near
    the deadline (5 s, for clock drift), so a citizen cannot mark their own submit as timed out."""
    return asked and attempt.deadline is not None and (attempt.deadline - now).total_seconds() <= 5


def recently_auto_submitted(session, user, contest: Contest, now: datetime) -> Attempt | None:
    """The citizen's latest timed attempt if the system handed it in within the last hour:
    the quiz page then shows its result instead of "no attempt running"."""
    latest = recently_handed_in(session, user, contest, now)
    return latest if latest is not None and latest.auto_submitted else None


def recently_handed_in(session, user, contest: Contest, now: datetime) -> Attempt | None:
    """The citizen's latest timed attempt if it was handed in (by them or the system) within
    the last hour: Back or a reload of the quiz page then shows its result (read-only)."""
    latest = session.scalar(
        select(Attempt).where(Attempt.user_id == user.id, Attempt.contest_id == contest.id,
                              Attempt.practice.is_(False)).order_by(Attempt.id.desc()).limit(1)
    )
    if latest is not None and latest.finished and latest.finished_at and \
            (now - latest.finished_at).total_seconds() < 3600:
        return latest
    return None


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


def as_seen(item: AttemptQuestion, bank_keys) -> list[str]:
    """Bank keys as the citizen saw them: the shuffled letter and the option's text ("B. 光合作用"),
    正确/错误 for a judge question; what an organizer reads out when a citizen says "我选的是A"."""
    texts = {option["key"]: option["text"] for option in shown_options(item)}
    shown = to_display(item, bank_keys)
    if item.question.type == "judge":
        return [texts.get(key, key) for key in shown]
    return [f"{key}. {texts[key]}" for key in shown]


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
