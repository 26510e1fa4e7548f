"""A clock per question (the contest file's `question_time_s`): which question is current,
until when, and moving on, as plain functions of the attempt and `now`.

An attempt of such a contest keeps `question_position` (0-based) and `question_served_at`:
that question was served then, for `question_time_s` seconds, and each later question is
served when the one before runs out, so at any `now` the current question follows from
those three values without a write (a refresh, an abandoned attempt). Moving on early
(`move_on`) serves the next question now; moving on is one way. The attempt's deadline
is the end of its last question (or of `time_limit_s`, whichever comes first) and only
ever moves earlier.

Saves follow the same clock in attempt_sql.SAVE (verdicts `question_left`, `not_served`);
tests/functional/test_question_clock.py checks the two agree.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Current:
    """The question shown now: its 0-based position, when it was served and until when."""
    position: int
    served_at: datetime
    deadline: datetime  # its time is up (the attempt's deadline when that comes first)
    count: int  # questions in the paper

    @property
    def last(self) -> bool:
        return self.position == self.count - 1

    def seconds_left(self, now: datetime) -> int:
        return max(0, int((self.deadline - now).total_seconds()))


def per_question(attempt) -> bool:
    return attempt.question_time_s is not None


def first_deadline(started_at: datetime, question_count: int, question_time_s: int, time_limit_s: int) -> datetime:
    """A new attempt's deadline: its last question's time is up, or `time_limit_s`, whichever first."""
    return started_at + timedelta(seconds=min(question_count * question_time_s, time_limit_s))


def current(attempt, now: datetime) -> Current | None:
    """The current question of a per-question attempt at `now` (None for a whole paper):
    the stored one, or a later one when the stored one's time ran out."""
    if not per_question(attempt):
        return None
    step = timedelta(seconds=attempt.question_time_s)
    last = attempt.question_count - 1
    passed = max(0, int((now - attempt.question_served_at) / step))
    position = min(attempt.question_position + passed, last)
    served_at = attempt.question_served_at + (position - attempt.question_position) * step
    deadline = min(served_at + step, attempt.deadline)
    return Current(position, served_at, deadline, attempt.question_count)


@dataclass(frozen=True)
class Move:
    """What moving on writes: the next question served now and the attempt's new deadline."""
    position: int
    served_at: datetime
    deadline: datetime


def move_on(attempt, shown: Current, now: datetime) -> Move | None:
    """Leave the current question `shown` now: the next one is served at `now`; None when it
    was the last (the attempt is handed in). The deadline never moves later."""
    if shown.last:
        return None
    position = shown.position + 1
    end = now + timedelta(seconds=(attempt.question_count - position) * attempt.question_time_s)
    return Move(position, now, min(end, attempt.deadline))
