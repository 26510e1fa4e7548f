"""The contest rules with a clock: deadlines and grace, limits, the window, grading,
finishing expired attempts. No request, no sleeping (DURING is 2021-05-23 10:00 Shanghai)."""
from datetime import datetime, timedelta

import pytest
from conftest import DURING
from sqlalchemy import select, update

from quiz import leaderboard
from quiz.clock import utcnow
from quiz.contest import attempts
from quiz.contest.errors import AttemptsExhausted, ContestClosed, DailyLimitReached, DeadlinePassed, InvalidAnswer
from quiz.extensions import db
from quiz.models import ATTEMPT_EXPIRED, ATTEMPT_SUBMITTED, Attempt, AttemptQuestion

SECOND = timedelta(seconds=1)


def right(item) -> list[str]:
    return attempts.to_display(item, item.question.answer)


def wrong(item) -> list[str]:
    if item.question.type == "judge":
        return ["false"] if item.question.answer == ["true"] else ["true"]
    return [k for k in "ABCD"[: len(item.option_order)] if k not in right(item)][:1]


def saved_choices(item_id: int):
    db.session.expire_all()
    return db.session.get(AttemptQuestion, item_id).choices


def finish(citizen, now, rng, contest):
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, now, rng)
    return attempts.submit_attempt(db.session, citizen, attempt.id, now + timedelta(seconds=60))


# ---- the deadline ------------------------------------------------------------------

def test_saves_are_accepted_for_two_seconds_after_the_deadline_then_refused(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    item = attempt.items[0]
    deadline = attempt.deadline
    assert deadline == DURING + timedelta(seconds=contest.time_limit_s)

    attempts.save_answer(db.session, citizen, attempt.id, item.question.qid, right(item), deadline + SECOND)
    assert saved_choices(item.id) == sorted(item.question.answer)

    with pytest.raises(DeadlinePassed) as refused:
        attempts.save_answer(db.session, citizen, attempt.id, item.question.qid, wrong(item), deadline + 3 * SECOND)
    assert refused.value.code == "deadline_passed"
    assert saved_choices(item.id) == sorted(item.question.answer)  # nothing changed


def test_time_used_counts_to_the_submit_or_the_deadline_whichever_is_first(contest, citizens, rng):
    early, late = citizens.make(), citizens.make()
    first, _ = attempts.start_attempt(db.session, early, contest, DURING, rng)
    done = attempts.submit_attempt(db.session, early, first.id, DURING + timedelta(seconds=95, milliseconds=250))
    assert done.time_used_ms == 95_250 and done.status == ATTEMPT_SUBMITTED

    second, _ = attempts.start_attempt(db.session, late, contest, DURING, rng)
    done = attempts.submit_attempt(db.session, late, second.id, second.deadline + SECOND)  # within the grace
    assert done.time_used_ms == contest.time_limit_s * 1000
    assert done.status == ATTEMPT_SUBMITTED and not done.auto_submitted


def test_submitting_after_the_grace_finishes_as_expired(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    done = attempts.submit_attempt(db.session, citizen, attempt.id, attempt.deadline + timedelta(minutes=5))
    assert done.status == ATTEMPT_EXPIRED and done.auto_submitted
    assert done.time_used_ms == contest.time_limit_s * 1000


# ---- starting: resume, limits, the window ---------------------------------------------

def test_starting_twice_resumes_the_same_attempt(contest, citizens, rng):
    citizen = citizens.make()
    first, created = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    again, created_again = attempts.start_attempt(db.session, citizen, contest, DURING + timedelta(minutes=3), rng)
    assert created and not created_again
    assert again.id == first.id and again.deadline == first.deadline
    assert db.session.query(Attempt).count() == 1


def test_the_daily_limit_follows_the_shanghai_calendar_day(contest, citizens, rng):
    citizen = citizens.make()
    before_midnight = datetime(2021, 5, 23, 15, 58)  # 23:58 in Shanghai
    finish(citizen, before_midnight, rng, contest)
    with pytest.raises(DailyLimitReached) as refused:
        attempts.start_attempt(db.session, citizen, contest, datetime(2021, 5, 23, 15, 59, 59), rng)
    assert refused.value.code == "daily_limit"

    after_midnight = datetime(2021, 5, 23, 16, 0, 1)  # 00:00:01 the next day in Shanghai
    attempt, created = attempts.start_attempt(db.session, citizen, contest, after_midnight, rng)
    assert created and attempt.day == "2021-05-24"


def test_max_attempts_over_the_whole_contest(contest, citizens, rng):
    citizen = citizens.make()
    for day in range(contest.max_attempts):
        finish(citizen, DURING + timedelta(days=day), rng, contest)
    with pytest.raises(AttemptsExhausted) as refused:
        attempts.start_attempt(db.session, citizen, contest, DURING + timedelta(days=contest.max_attempts), rng)
    assert refused.value.code == "attempts_exhausted"


@pytest.mark.parametrize("moment", [datetime(2021, 5, 21, 23, 59, 59), datetime(2021, 6, 5, 14, 0)])
def test_no_start_outside_the_window(contest, citizens, rng, moment):
    with pytest.raises(ContestClosed) as refused:
        attempts.start_attempt(db.session, citizens.make(), contest, moment, rng)
    assert refused.value.code == "contest_closed"
    assert db.session.query(Attempt).count() == 0


def test_practice_never_counts_toward_limits_or_the_board(practice_contest, citizens, rng):
    contest = practice_contest  # practice during the contest needs a practice bank (issue 14)
    citizen = citizens.make()
    practice, created = attempts.start_practice(db.session, citizen, contest, DURING, rng, per_day=50)
    assert created and practice.practice and practice.deadline is None
    for item in practice.items:
        attempts.save_answer(db.session, citizen, practice.id, item.question.qid, right(item), DURING + timedelta(hours=3))
    done = attempts.submit_attempt(db.session, citizen, practice.id, DURING + timedelta(hours=3))
    assert done.score == done.max_score
    counts = attempts.attempt_allowance(db.session, citizen, contest, DURING)
    assert (counts.today, counts.total) == (0, 0)
    assert attempts.best_from_sql(db.session, citizen, contest) is None
    assert leaderboard.rank_or_none(contest, citizen) is None

    attempt, created = attempts.start_attempt(db.session, citizen, contest, DURING + timedelta(hours=3), rng)
    assert created and not attempt.practice


def test_later_attempts_avoid_questions_already_served(contest, citizens, rng):
    citizen = citizens.make()
    seen = set()
    for day in range(3):
        attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING + timedelta(days=day), rng)
        qids = {item.question.qid for item in attempt.items}
        assert len(qids) == contest.questions_per_attempt
        assert not qids & seen, f"day {day} repeats {qids & seen}"
        seen |= qids
        attempts.submit_attempt(db.session, citizen, attempt.id, DURING + timedelta(days=day, minutes=1))


# ---- grading and submitting -----------------------------------------------------------

def test_multiple_choice_is_all_or_nothing(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    multiples = [item for item in attempt.items if item.question.type == "multiple"]
    assert len(multiples) >= 3  # the sample paper asks for three
    exact, fewer, more = multiples[:3]
    attempts.save_answer(db.session, citizen, attempt.id, exact.question.qid, right(exact), DURING + SECOND)
    attempts.save_answer(db.session, citizen, attempt.id, fewer.question.qid, right(fewer)[:-1], DURING + SECOND)
    extra = [k for k in "ABCDEFGH"[: len(more.option_order)] if k not in right(more)][:1]
    attempts.save_answer(db.session, citizen, attempt.id, more.question.qid, sorted(right(more) + extra), DURING + SECOND)

    done = attempts.submit_attempt(db.session, citizen, attempt.id, DURING + timedelta(seconds=30))
    graded = {item.question.qid: item.correct for item in done.items}
    assert graded[exact.question.qid] is True
    assert graded[fewer.question.qid] is False and graded[more.question.qid] is False
    assert done.correct_count == 1 and done.score == exact.points


def test_invalid_choices_are_refused_and_change_nothing(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    single = next(item for item in attempt.items if item.question.type == "single")
    for bad in (["A", "B"], ["Z"], "A", [1]):
        with pytest.raises(InvalidAnswer):
            attempts.save_answer(db.session, citizen, attempt.id, single.question.qid, bad, DURING + SECOND)
    with pytest.raises(InvalidAnswer) as unknown:
        attempts.save_answer(db.session, citizen, attempt.id, "no-such-question", ["A"], DURING + SECOND)
    assert unknown.value.field == "question_id"
    assert saved_choices(single.id) is None


def test_submitting_twice_gives_one_result_and_one_board_entry(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    first = attempts.submit_attempt(db.session, citizen, attempt.id, DURING + timedelta(seconds=40))
    result = (first.score, first.time_used_ms, first.finished_at)
    second = attempts.submit_attempt(db.session, citizen, attempt.id, DURING + timedelta(seconds=80))
    assert (second.score, second.time_used_ms, second.finished_at) == result
    assert leaderboard.totals(contest)["attempts"] == 1
    assert leaderboard.top(contest)["total"] == 1


def test_no_save_after_the_hand_in(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    item = attempt.items[0]
    attempts.submit_attempt(db.session, citizen, attempt.id, DURING + timedelta(seconds=30))
    with pytest.raises(DeadlinePassed):
        attempts.save_answer(db.session, citizen, attempt.id, item.question.qid, right(item), DURING + timedelta(seconds=31))
    assert saved_choices(item.id) is None


# ---- expired attempts --------------------------------------------------------------------

def test_finalize_expired_keeps_the_answers_saved_in_time(contest, citizens, rng):
    citizen, active_one = citizens.make(), citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    in_time, too_late = attempt.items[0], attempt.items[1]
    attempts.save_answer(db.session, citizen, attempt.id, in_time.question.qid, right(in_time), DURING + timedelta(minutes=2))
    with pytest.raises(DeadlinePassed):
        attempts.save_answer(db.session, citizen, attempt.id, too_late.question.qid, right(too_late),
                             attempt.deadline + timedelta(seconds=3))
    later, _ = attempts.start_attempt(db.session, active_one, contest, DURING + timedelta(minutes=9), rng)

    assert attempts.finalize_expired(db.session, attempt.deadline + timedelta(seconds=3)) == 1
    db.session.expire_all()
    done = db.session.get(Attempt, attempt.id)
    assert done.status == ATTEMPT_EXPIRED and done.auto_submitted
    assert done.correct_count == 1 and done.score == in_time.points
    assert done.time_used_ms == contest.time_limit_s * 1000
    assert db.session.get(Attempt, later.id).status == "active"  # its time is not up
    assert leaderboard.top(contest)["entries"][0]["score"] == in_time.points


def test_an_expired_attempt_is_finished_when_the_citizen_comes_back(contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    tomorrow = DURING + timedelta(days=1)
    fresh, created = attempts.start_attempt(db.session, citizen, contest, tomorrow, rng)
    assert created and fresh.id != attempt.id
    db.session.expire_all()
    old = db.session.get(Attempt, attempt.id)
    assert old.status == ATTEMPT_EXPIRED and old.auto_submitted and old.finished_at == attempt.deadline


def test_the_cli_finalizes_expired_attempts(open_contest, citizens, runner, rng):
    citizen = citizens.make(now=utcnow())
    now = utcnow()
    attempt, _ = attempts.start_attempt(db.session, citizen, open_contest, now, rng)
    item = attempt.items[0]
    attempts.save_answer(db.session, citizen, attempt.id, item.question.qid, right(item), now)
    # Its time ran out an hour ago (moved back rather than waited for).
    db.session.execute(update(Attempt).where(Attempt.id == attempt.id).values(
        started_at=now - timedelta(hours=1, seconds=open_contest.time_limit_s), deadline=now - timedelta(hours=1)))
    db.session.commit()

    outcome = runner.invoke(args=["attempts", "finalize-expired"])
    assert outcome.exit_code == 0, outcome.output
    assert "已结束 1 份超时的答卷" in outcome.output
    db.session.expire_all()
    done = db.session.scalar(select(Attempt).where(Attempt.id == attempt.id))
    assert done.status == ATTEMPT_EXPIRED and done.score == item.points
    assert runner.invoke(args=["attempts", "finalize-expired"]).output.startswith("已结束 0 份")
