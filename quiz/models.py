"""Typed SQLAlchemy models. SQL is the source of truth for every result.

Datetimes are stored as naive UTC; quiz.clock converts for display and for
the Asia/Shanghai calendar day.
"""
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quiz.extensions import db

ROLE_CITIZEN = "citizen"
ROLE_DISTRICT = "district"
ROLE_CITY = "city"


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(20))
    district: Mapped[str | None] = mapped_column(String(40), index=True)
    group: Mapped[str | None] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(100))  # the unit's name (free text, or the listed unit's name)
    # The contest file's unit and township codes when it lists them (None: free text / not asked).
    unit_code: Mapped[str | None] = mapped_column(String(60))
    township: Mapped[str | None] = mapped_column(String(60))
    # None: registered by a phone code without a password (password login refused).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default=ROLE_CITIZEN)
    # Bumped on logout and password change: old cookies and remember tokens stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # A staff or test account (marked by an organizer): kept off public standings, like organizers.
    staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Personal data replaced by placeholders (quiz/personal_data.py): by a purge or a closing.
    anonymized_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Closed by the citizen (注销): results stay in the aggregates, off the public boards.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The client address that registered (security.client_address), for the review flags.
    registered_from: Mapped[str | None] = mapped_column(String(45))

    # Flask-Login protocol
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_organizer(self) -> bool:
        return self.role in (ROLE_CITY, ROLE_DISTRICT)


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # indexed for the purge at issue
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # What the token was issued under: it never acts with another role, and an organizer's
    # token issued without the second factor never acts as an organizer while 2FA is required.
    role: Mapped[str] = mapped_column(String(10), default=ROLE_CITIZEN, server_default=ROLE_CITIZEN)
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    user: Mapped[User] = relationship()


class PhoneCode(db.Model):
    """A 6-digit code sent to a phone (quiz/phone_codes.py): only its keyed SHA-256 is kept."""
    __tablename__ = "phone_codes"
    __table_args__ = (Index("ix_phone_codes_phone_created", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11))
    purpose: Mapped[str] = mapped_column(String(10))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    wrong_tries: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Set when the code was used, voided by 5 wrong tries, or replaced by a newer code.
    spent_at: Mapped[datetime | None] = mapped_column(DateTime)


class Bank(db.Model):
    __tablename__ = "banks"
    __table_args__ = (UniqueConstraint("slug", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    categories: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(DateTime)

    questions: Mapped[list["Question"]] = relationship(back_populates="bank", order_by="Question.id")


class Question(db.Model):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("bank_id", "qid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    qid: Mapped[str] = mapped_column(String(60))
    type: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(60))
    difficulty: Mapped[int] = mapped_column(Integer)
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list] = mapped_column(JSON)  # [[key, text], ...] in bank order; [] for judge
    answer: Mapped[list] = mapped_column(JSON)  # sorted keys; judge: ["true"] or ["false"]
    explanation: Mapped[str] = mapped_column(Text)
    points: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    source: Mapped[str | None] = mapped_column(String(255))
    line: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    # The question's place in a random order of the bank, set at insert: papers are drawn
    # from windows of this order (quiz/contest/paper.py), never by reading the whole bank.
    draw_key: Mapped[float] = mapped_column(Float, server_default=text("random()"))

    bank: Mapped[Bank] = relationship(back_populates="questions")


class Contest(db.Model):
    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str] = mapped_column(String(200), default="")
    bank_slug: Mapped[str] = mapped_column(String(60))
    # The bank version papers are drawn from, set by each import of the contest: a new
    # version of the bank changes nothing until the contest is imported (or saved) again.
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id", name="contests_bank_id_fkey"))
    # Practice papers come from this bank (never the contest's own); None: 赛后练习 only.
    practice_bank_slug: Mapped[str | None] = mapped_column(String(60))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    time_limit_s: Mapped[int] = mapped_column(Integer)
    # A clock per question (docs/contest.md): each question shown alone for this many seconds; None: the whole paper at once.
    question_time_s: Mapped[int | None] = mapped_column(Integer)
    # featured: true in the contest file: the contest the bare paths mean (quiz.contest.rules.current_contest)
    featured: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    questions_per_attempt: Mapped[int] = mapped_column(Integer)
    paper: Mapped[list] = mapped_column(JSON, default=list)
    points: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts_per_day: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    districts: Mapped[list] = mapped_column(JSON)  # [{code, name, population}]
    units: Mapped[list | None] = mapped_column(JSON, default=list)  # [{code, name, district, kind}]; [] = free text
    townships: Mapped[dict | None] = mapped_column(JSON, default=dict)  # district code -> [{code, name}]
    # The contest file's groups (组别, quiz/groups.py): [{code, name, paper?}]; [] or None: no groups.
    groups: Mapped[list | None] = mapped_column(JSON, default=list)
    district_rank_by: Mapped[str] = mapped_column(String(20), default="per_10k", server_default="per_10k")
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    # Days after ends_at the citizens' personal data is kept (contest file); None: not stated.
    personal_data_days: Mapped[int | None] = mapped_column(Integer)
    # When `citizens purge` replaced the personal data of the contest's citizens.
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Finishing the contest (issue 16, docs/contest.md): the public boards show the standings as
    # of freeze_at until unfrozen_at is set (`contest unfreeze`).
    freeze_at: Mapped[datetime | None] = mapped_column(DateTime)
    unfrozen_at: Mapped[datetime | None] = mapped_column(DateTime)
    organizer: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # The contest file's prize tiers, in order (higher first): [{name, ranks | per_district | draw, min_score?}]
    awards: Mapped[list] = mapped_column(JSON, default=list)
    objection_days: Mapped[int] = mapped_column(Integer, default=5, server_default=text("5"))
    # None: no participation certificates.
    certificate_min_score: Mapped[int | None] = mapped_column(Integer)
    awards_assigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    # 公示: the winners list is public from then; objections are taken for objection_days.
    awards_published_at: Mapped[datetime | None] = mapped_column(DateTime)

    def district_names(self) -> dict[str, str]:
        return {d["code"]: d["name"] for d in self.districts}


ATTEMPT_ACTIVE = "active"
ATTEMPT_SUBMITTED = "submitted"
ATTEMPT_EXPIRED = "expired"


class Attempt(db.Model):
    __tablename__ = "attempts"
    __table_args__ = (
        # At most one active timed attempt per citizen and contest, even with two app hosts.
        Index(
            "one_active_attempt",
            "user_id",
            "contest_id",
            unique=True,
            postgresql_where=text("status = 'active' AND NOT practice"),
        ),
        Index("attempts_by_contest_status", "contest_id", "status"),
        # The finalizer's sweep (quiz/finalizer.py): running attempts by deadline.
        Index("attempts_active_by_deadline", "deadline", postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    practice: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default=ATTEMPT_ACTIVE)
    day: Mapped[str] = mapped_column(String(10))  # Asia/Shanghai calendar day of the start
    started_at: Mapped[datetime] = mapped_column(DateTime)
    deadline: Mapped[datetime | None] = mapped_column(DateTime)  # None for practice
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    auto_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[int | None] = mapped_column(Integer)
    max_score: Mapped[int | None] = mapped_column(Integer)
    correct_count: Mapped[int | None] = mapped_column(Integer)
    question_count: Mapped[int] = mapped_column(Integer, default=0)
    time_used_ms: Mapped[int | None] = mapped_column(Integer)
    # Set when the leaderboard could not be told; the catch-up clears it.
    board_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # The client address that started it (security.client_address), for the review flags.
    started_from: Mapped[str | None] = mapped_column(String(45))
    # A clock per question (quiz/contest/question_clock.py), all None for a whole paper: the
    # contest's question_time_s when the attempt started, and the question current since
    # question_served_at (the questions after it follow every question_time_s seconds).
    question_time_s: Mapped[int | None] = mapped_column(Integer)
    question_position: Mapped[int | None] = mapped_column(Integer)
    question_served_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The contest group (a code of contest.groups) the citizen was in at the start: its board
    # and its paper rules; None when the contest lists no groups (quiz/groups.py).
    group: Mapped[str | None] = mapped_column(String(20))

    user: Mapped[User] = relationship()
    contest: Mapped[Contest] = relationship()
    items: Mapped[list["AttemptQuestion"]] = relationship(
        back_populates="attempt", order_by="AttemptQuestion.position"
    )

    @property
    def finished(self) -> bool:
        return self.status != ATTEMPT_ACTIVE


class AttemptQuestion(db.Model):
    """One question as this attempt served it, with the option order the citizen saw."""

    __tablename__ = "attempt_questions"
    # The unique index also serves look-ups by attempt; pages 70 % full leave room for the
    # updates of saves and grading (migration 5b1e7c0f2a9d).
    __table_args__ = (UniqueConstraint("attempt_id", "position"), {"postgresql_with": {"fillfactor": 70}})

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    option_order: Mapped[list] = mapped_column(JSON)  # bank keys in the order shown
    choices: Mapped[list | None] = mapped_column(JSON)  # bank keys chosen, sorted
    saved_at: Mapped[datetime | None] = mapped_column(DateTime)
    correct: Mapped[bool | None] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(Integer, default=1)

    attempt: Mapped[Attempt] = relationship(back_populates="items")
    question: Mapped[Question] = relationship()


class Disqualification(db.Model):
    """A citizen taken out of one contest's boards, standings and draws (quiz/disqualification.py).
    Reversible: reinstating sets lifted_at; the row stays as the record."""
    __tablename__ = "disqualifications"
    __table_args__ = (Index("one_disqualification", "contest_id", "user_id", unique=True,
                            postgresql_where=text("lifted_at IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(60))  # the organizer's phone, or "cli"
    at: Mapped[datetime] = mapped_column(DateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(60))
    lift_reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship()


AWARD_RANKED = "rank"  # a tier by rank in the city
AWARD_DISTRICT = "district"  # a tier of the first N of each district
AWARD_DRAW = "draw"  # a draw among those above a score
CLAIM_STATES = ("pending", "contacted", "verified", "sent")


class Award(db.Model):
    """One prize of one citizen in one contest (one prize per citizen and contest)."""
    __tablename__ = "awards"
    __table_args__ = (UniqueConstraint("contest_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    tier: Mapped[str] = mapped_column(String(60))  # the tier's name, e.g. 一等奖
    kind: Mapped[str] = mapped_column(String(10))  # AWARD_RANKED, AWARD_DISTRICT or AWARD_DRAW
    # City rank (ranked), rank in the district (district), place in the draw (draw), from 1.
    position: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[datetime] = mapped_column(DateTime)
    claim_status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    claim_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    claim_updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class AwardDraw(db.Model):
    """A draw as it was run: what anyone needs to re-run it (docs/awards.md)."""
    __tablename__ = "award_draws"
    __table_args__ = (UniqueConstraint("contest_id", "tier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    tier: Mapped[str] = mapped_column(String(60))
    seed: Mapped[str] = mapped_column(Text)
    eligible_count: Mapped[int] = mapped_column(Integer)
    eligible_sha256: Mapped[str] = mapped_column(String(64))
    winners: Mapped[list] = mapped_column(JSON)  # user ids in draw order
    drawn_at: Mapped[datetime] = mapped_column(DateTime)


class Objection(db.Model):
    """An objection filed during the 公示 window, and the organizers' answer."""
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    about: Mapped[str] = mapped_column(String(200))  # a named winner, or "self" for one's own result
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_by: Mapped[str | None] = mapped_column(String(60))

    user: Mapped[User] = relationship()


class Certificate(db.Model):
    """A certificate's verification code: /certificates/<code> confirms it."""
    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("contest_id", "user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))  # "award" or "participation"
    prize: Mapped[str] = mapped_column(String(60))  # the tier's name, or 参与
    issued_at: Mapped[datetime] = mapped_column(DateTime)

    user: Mapped[User] = relationship()
    contest: Mapped[Contest] = relationship()


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(60))  # phone or "cli"
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
