"""Review flags: results an organizer should look at before the prizes. They never act by
themselves; an organizer decides (quiz.disqualification).

Each flag is computed by one SQL query over the contest's finished timed attempts of the
citizens who count (leaderboard.counted_accounts: public accounts not disqualified), so
a disqualified citizen leaves the queue and is listed with the disqualifications instead.

| kind | raised when | setting (quiz/config.py, default) |
|---|---|---|
| fast_full_marks | an attempt has full marks (score = max_score > 0) in less than question_count x N seconds | REVIEW_SECONDS_PER_QUESTION (3) |
| shared_address | at least N accounts whose attempts started from one address handed in the same answer sequence | REVIEW_SHARED_ADDRESS_ACCOUNTS (3) |
| registration_burst | at least N accounts that took part registered from one address within M minutes | REVIEW_REGISTRATION_BURST (20), REVIEW_REGISTRATION_WINDOW_MIN (10) |
| identical_answers | two or more citizens handed in the same answer sequence with at least one wrong or blank answer | — |

An attempt's answer sequence is its set of (question, chosen bank keys) pairs, blanks
included. Papers are drawn at random and the options shuffled per attempt, so positions
and displayed letters differ; the bank question and bank keys do not. Two attempts match
when they were served the same questions and chose the same keys on every one, wrong
ones included. With a large bank identical papers are rare; with a small bank or a fixed
paper many honest citizens share a full-marks sequence, which shows only that they knew
the answers: hence identical_answers needs a shared wrong or blank answer, while
shared_address (one address as well) does not. A group flagged as shared_address is not
flagged again as identical_answers.

Addresses are the client address the rate limits use (web.security.client_address),
stored at registration (users.registered_from) and at an attempt's start
(attempts.started_from). City organizers and the CLI see them in full; district
organizers see them masked (mask_address).
"""
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Text, and_, cast, exists, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

from quiz.clock import local
from quiz.leaderboard import counted_accounts
from quiz.models import ATTEMPT_ACTIVE, Attempt, AttemptQuestion, Contest, User

FAST_FULL_MARKS = "fast_full_marks"
SHARED_ADDRESS = "shared_address"
REGISTRATION_BURST = "registration_burst"
IDENTICAL_ANSWERS = "identical_answers"
KIND_NAMES = {FAST_FULL_MARKS: "满分用时过短", SHARED_ADDRESS: "同一地址多账号答卷相同",
              REGISTRATION_BURST: "同一地址集中注册", IDENTICAL_ANSWERS: "答卷与他人完全相同"}
ADDRESS = "{address}"  # where an evidence string names the address (shown full or masked)


@dataclass(frozen=True)
class ReviewSettings:
    seconds_per_question: float = 3
    shared_address_accounts: int = 3
    registration_burst: int = 20
    registration_window_min: int = 10

    @classmethod
    def from_config(cls, config) -> "ReviewSettings":
        return cls(float(config["REVIEW_SECONDS_PER_QUESTION"]), int(config["REVIEW_SHARED_ADDRESS_ACCOUNTS"]),
                   int(config["REVIEW_REGISTRATION_BURST"]), int(config["REVIEW_REGISTRATION_WINDOW_MIN"]))


@dataclass(frozen=True)
class FlaggedCitizen:
    user_id: int
    name: str
    phone: str
    district: str | None


@dataclass
class Flag:
    kind: str
    citizens: list[FlaggedCitizen]
    evidence_text: str  # Chinese; ADDRESS stands for the address
    address: str | None = None
    districts: set = field(default_factory=set)  # of the citizens concerned
    answers: str | None = None  # the answer sequence's digest (the two identical-answers kinds)

    @property
    def evidence(self) -> str:
        """The evidence with the full address (city organizers, the CLI)."""
        return self.evidence_for(full_address=True)

    def evidence_for(self, full_address: bool) -> str:
        shown = self.address if full_address else mask_address(self.address)
        return self.evidence_text.replace(ADDRESS, shown or "")

    @property
    def name(self) -> str:
        return KIND_NAMES[self.kind]


def mask_address(address: str | None) -> str | None:
    """The network, not the host: "203.0.113.7" -> "203.0.113.*", "2001:db8:1:2::5" -> "2001:db8:1:2:*"."""
    if not address:
        return address
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "*"
    if parsed.version == 4:
        return address.rsplit(".", 1)[0] + ".*"
    return ":".join(format(int(group, 16), "x") for group in parsed.exploded.split(":")[:4]) + ":*"


def review_flags(session, contest: Contest, now: datetime, settings: ReviewSettings,
                 district: str | None = None) -> list[Flag]:
    """Every flag of the contest, by kind then by the number of citizens concerned;
    `district` keeps the flags concerning a citizen of that district. `now` is unused
    today: the flags are over finished attempts, whenever they are asked for."""
    flags = (fast_full_marks(session, contest, settings) + shared_address(session, contest, settings)
             + registration_bursts(session, contest, settings))
    flags += identical_answers(session, contest, already=flags)
    if district is not None:
        flags = [flag for flag in flags if district in flag.districts]
    return flags


def _counted_finished(contest: Contest) -> tuple:
    return (Attempt.contest_id == contest.id, Attempt.practice.is_(False), Attempt.status != ATTEMPT_ACTIVE,
            *counted_accounts(contest))


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f}".removesuffix(".0")


def fast_full_marks(session, contest: Contest, settings: ReviewSettings) -> list[Flag]:
    """One flag per citizen with a full-marks attempt faster than settings.seconds_per_question
    per question (its fastest such attempt is the evidence)."""
    limit_ms = Attempt.question_count * int(settings.seconds_per_question * 1000)
    fast = (
        select(Attempt.user_id, Attempt.score, Attempt.time_used_ms, Attempt.question_count,
               func.count().over(partition_by=Attempt.user_id).label("n"),
               func.row_number().over(partition_by=Attempt.user_id, order_by=(Attempt.time_used_ms, Attempt.id))
               .label("nth"))
        .join(User, User.id == Attempt.user_id)
        .where(*_counted_finished(contest), Attempt.max_score > 0, Attempt.score == Attempt.max_score,
               Attempt.time_used_ms < limit_ms)
        .subquery()
    )
    rows = session.execute(select(fast).where(fast.c.nth == 1).order_by(fast.c.time_used_ms, fast.c.user_id)).all()
    people = _citizens(session, {row.user_id for row in rows})
    flags = []
    for row in rows:
        per = row.time_used_ms / 1000 / max(row.question_count, 1)
        text = (f"满分 {row.score} 分，用时 {_seconds(row.time_used_ms)} 秒（{row.question_count} 题，"
                f"平均每题 {per:.1f} 秒，不足 {settings.seconds_per_question:g} 秒）")
        if row.n > 1:
            text += f"；共 {row.n} 次这样的答题"
        flags.append(_flag(FAST_FULL_MARKS, [people[row.user_id]], text))
    return flags


def _answer_sequences(contest: Contest):
    """Per finished attempt: its answer sequence as an MD5 of the (question id, chosen keys)
    pairs in question-id order, its started_from, score and wrong-or-blank count."""
    chosen = func.coalesce(cast(cast(AttemptQuestion.choices, JSONB), Text), "null")
    pair = func.concat(AttemptQuestion.question_id, ":", chosen)
    return (
        select(Attempt.id.label("attempt_id"), Attempt.user_id, Attempt.started_from, Attempt.score,
               Attempt.question_count,
               func.md5(func.string_agg(pair, aggregate_order_by(literal_column("';'"), AttemptQuestion.question_id)))
               .label("answers"),
               func.count().filter(func.coalesce(AttemptQuestion.correct, cast(False, Boolean)).is_(False))
               .label("wrong"))
        .join(AttemptQuestion, AttemptQuestion.attempt_id == Attempt.id)
        .join(User, User.id == Attempt.user_id)
        .where(*_counted_finished(contest))
        .group_by(Attempt.id)
        .subquery()
    )


def shared_address(session, contest: Contest, settings: ReviewSettings) -> list[Flag]:
    """One flag per (address, answer sequence) handed in by settings.shared_address_accounts or more accounts."""
    sequences = _answer_sequences(contest)
    accounts = func.count(sequences.c.user_id.distinct())
    rows = session.execute(
        select(sequences.c.started_from, sequences.c.answers, accounts.label("accounts"),
               func.array_agg(sequences.c.user_id.distinct()).label("user_ids"),
               func.max(sequences.c.score).label("score"), func.max(sequences.c.wrong).label("wrong"),
               func.max(sequences.c.question_count).label("questions"))
        .where(sequences.c.started_from.is_not(None))
        .group_by(sequences.c.started_from, sequences.c.answers)
        .having(accounts >= settings.shared_address_accounts)
        .order_by(accounts.desc(), sequences.c.started_from)
    ).all()
    people = _citizens(session, {user_id for row in rows for user_id in row.user_ids})
    return [_flag(SHARED_ADDRESS, [people[i] for i in sorted(row.user_ids)],
                  f"同一地址 {ADDRESS} 的 {row.accounts} 个账号交出完全相同的答卷（同样的 {row.questions} 道题，"
                  f"每题选项一致，得分 {row.score} 分，错或未答 {row.wrong} 题）",
                  address=row.started_from, answers=row.answers)
            for row in rows]


def identical_answers(session, contest: Contest, already: list[Flag] = ()) -> list[Flag]:
    """One flag per answer sequence with a wrong or blank answer handed in by two or more
    citizens; a group already flagged from one address (shared_address) is left out."""
    sequences = _answer_sequences(contest)
    accounts = func.count(sequences.c.user_id.distinct())
    rows = session.execute(
        select(sequences.c.answers, accounts.label("accounts"),
               func.array_agg(sequences.c.user_id.distinct()).label("user_ids"),
               func.max(sequences.c.score).label("score"), func.max(sequences.c.wrong).label("wrong"),
               func.max(sequences.c.question_count).label("questions"))
        .where(sequences.c.wrong > 0)
        .group_by(sequences.c.answers)
        .having(accounts >= 2)
        .order_by(accounts.desc(), sequences.c.answers)
    ).all()
    covered: dict[str, set] = {}
    for flag in already:
        if flag.kind == SHARED_ADDRESS:
            covered.setdefault(flag.answers, set()).update(c.user_id for c in flag.citizens)
    rows = [row for row in rows if not set(row.user_ids) <= covered.get(row.answers, set())]
    people = _citizens(session, {user_id for row in rows for user_id in row.user_ids})
    return [_flag(IDENTICAL_ANSWERS, [people[i] for i in sorted(row.user_ids)],
                  f"{row.accounts} 人的答卷完全相同：同样的 {row.questions} 道题，每题选项一致，"
                  f"包括 {row.wrong} 道相同的错题或空题（得分 {row.score} 分）", answers=row.answers)
            for row in rows]


def registration_bursts(session, contest: Contest, settings: ReviewSettings) -> list[Flag]:
    """One flag per address from which settings.registration_burst or more citizens taking part
    registered within settings.registration_window_min minutes (its densest window)."""
    took_part = exists().where(*_counted_finished(contest), Attempt.user_id == User.id)
    registered = (select(User.id, User.registered_from, User.created_at)
                  .where(User.registered_from.is_not(None), took_part, *counted_accounts(contest))
                  .subquery("registered"))
    minutes = int(settings.registration_window_min)
    # How many registrations from the same address follow each one within the window (itself included).
    following = literal_column(
        f"count(*) OVER (PARTITION BY registered.registered_from ORDER BY registered.created_at "
        f"RANGE BETWEEN CURRENT ROW AND INTERVAL '{minutes} minutes' FOLLOWING)")
    windows = select(registered.c.registered_from, registered.c.created_at, following.label("n")).subquery()
    densest = (select(windows.c.registered_from, windows.c.created_at, windows.c.n,
                      func.row_number().over(partition_by=windows.c.registered_from,
                                             order_by=(windows.c.n.desc(), windows.c.created_at)).label("nth"))
               .where(windows.c.n >= settings.registration_burst)
               .subquery())
    bursts = session.execute(select(densest).where(densest.c.nth == 1)
                             .order_by(densest.c.n.desc(), densest.c.registered_from)).all()
    flags = []
    for burst in bursts:
        end = burst.created_at + timedelta(minutes=minutes)
        ids = session.scalars(select(registered.c.id).where(
            registered.c.registered_from == burst.registered_from,
            and_(registered.c.created_at >= burst.created_at, registered.c.created_at <= end))
            .order_by(registered.c.created_at, registered.c.id)).all()
        people = _citizens(session, set(ids))
        flags.append(_flag(REGISTRATION_BURST, [people[i] for i in ids],
                           f"同一地址 {ADDRESS} 在 {minutes} 分钟内注册了 {burst.n} 个参赛账号"
                           f"（{local(burst.created_at):%m月%d日 %H:%M} 起）", address=burst.registered_from))
    return flags


def _citizens(session, user_ids: set) -> dict[int, FlaggedCitizen]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.name, User.phone, User.district).where(User.id.in_(user_ids)))
    return {row.id: FlaggedCitizen(row.id, row.name, row.phone, row.district) for row in rows}


def _flag(kind: str, people: list[FlaggedCitizen], text: str, address: str | None = None,
          answers: str | None = None) -> Flag:
    return Flag(kind, people, text, address, {c.district for c in people}, answers)
