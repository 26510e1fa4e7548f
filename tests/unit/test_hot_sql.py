"""The hand-written save and submit statements store what the ORM reads back, on both backends."""
from datetime import timedelta

import pytest
import sqlalchemy.exc
from conftest import DURING

from quiz import hot_sql
from quiz.contest import attempts
from quiz.extensions import db
from quiz.models import Attempt, AttemptQuestion


def test_saved_and_graded_values_read_back_through_the_orm(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    multiple = next(item for item in attempt.items if item.question.type == "multiple")
    judge = next(item for item in attempt.items if item.question.type == "judge")
    saved_at = DURING + timedelta(seconds=42, microseconds=123456)
    right = attempts.to_display(multiple, multiple.question.answer)
    attempts.save_answers(db.session, citizen, attempt.id, {multiple.question.qid: right, judge.question.qid: ["true"]},
                          saved_at)

    stored = db.session.get(AttemptQuestion, multiple.id)
    assert stored.choices == sorted(multiple.question.answer)  # bank keys, a JSON list
    assert stored.saved_at == saved_at  # to the microsecond
    assert db.session.get(AttemptQuestion, judge.id).choices == ["true"]

    graded = attempts.submit_attempt(db.session, citizen, attempt.id, DURING + timedelta(seconds=90))
    row = db.session.get(Attempt, attempt.id)
    assert (row.status, row.auto_submitted, row.finished_at) == ("submitted", False, DURING + timedelta(seconds=90))
    assert (row.score, row.max_score, row.correct_count, row.time_used_ms) == \
        (graded.score, graded.max_score, graded.correct_count, 90_000)
    verdicts = {item.id: item.correct for item in db.session.get(Attempt, attempt.id).items}
    assert verdicts[multiple.id] is True
    assert set(verdicts.values()) <= {True, False}  # every question graded, none left NULL
    assert sum(verdicts.values()) == graded.correct_count


def test_a_late_submit_is_finished_at_the_deadline_as_expired(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    graded = attempts.submit_attempt(db.session, citizen, attempt.id, attempt.deadline + timedelta(minutes=3))
    assert (graded.status, graded.auto_submitted, graded.finished_at) == ("expired", True, attempt.deadline)
    assert graded.time_used_ms == contest.time_limit_s * 1000


def test_a_database_error_surfaces_as_sqlalchemys_and_the_session_recovers(contest, citizens):
    broken = hot_sql.Statement("SELECT id FROM no_such_table WHERE id = :id")
    with pytest.raises(sqlalchemy.exc.DBAPIError):
        hot_sql.run(db.session, broken, {"id": 1})
    db.session.rollback()
    citizen = citizens.make()
    assert hot_sql.first(db.session, hot_sql.ATTEMPTS_BY_DAY, {"user_id": citizen.id, "contest_id": contest.id}) is None
