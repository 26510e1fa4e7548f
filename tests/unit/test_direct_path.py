"""The PostgreSQL hot path (one statement per save, one pipelined transaction per submit)
gives the citizen exactly what the session path gives: the same stored answers, the same
refusals, the same grades; and it survives a dropped connection."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy.exc
from conftest import DURING
from sqlalchemy import text

from quiz import hot_sql, leaderboard
from quiz.accounts import issue_token, token_digest
from quiz.contest import attempts
from quiz.contest.errors import AttemptNotFound, DeadlinePassed, InvalidAnswer
from quiz.extensions import db
from quiz.models import Attempt, AttemptQuestion


@pytest.fixture
def direct(app):
    engine = hot_sql.direct_engine()
    if engine is None:
        pytest.skip("the direct pool is PostgreSQL's (set TEST_DATABASE_URL)")
    return engine


@pytest.fixture
def player(contest, citizens, rng):
    """(citizen, token, active attempt) at DURING."""
    citizen = citizens.make()
    token, _ = issue_token(db.session, citizen, DURING, 86_400)
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    return citizen, token, attempt


def stored_choices(item_id):
    db.session.expire_all()
    return db.session.get(AttemptQuestion, item_id).choices


def test_each_question_type_stores_the_bank_keys_the_session_path_stores(direct, player):
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=30)
    for item in attempt.items:
        keys = attempts.DISPLAY_KEYS[:len(item.option_order)]
        shown = ["true"] if item.question.type == "judge" else [keys[-1]] if item.question.type == "single" \
            else [keys[2], keys[0]]
        assert attempts.save_answer_by_token(direct, token, attempt.id, item.question.qid, shown, now) is True
        assert stored_choices(item.id) == attempts.to_bank_keys(item.question.type, item.option_order, shown)
        assert db.session.get(AttemptQuestion, item.id).saved_at == now
    first = next(item for item in attempt.items if item.question.type != "judge")
    attempts.save_answer_by_token(direct, token, attempt.id, first.question.qid, [], now)
    assert stored_choices(first.id) == []  # cleared, not NULL


def test_refusals_name_the_same_problem_as_the_session_path(direct, player, citizens, contest, rng):
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=30)
    single = next(i for i in attempt.items if i.question.type == "single")
    judge = next(i for i in attempt.items if i.question.type == "judge")
    save = attempts.save_answer_by_token

    assert save(direct, "not-a-token", attempt.id, single.question.qid, ["A"], now) is False
    with pytest.raises(InvalidAnswer) as refused:
        save(direct, token, attempt.id, "no-such-question", ["A"], now)
    assert refused.value.field == "question_id"
    for shown in (["A", "B"], ["true"], [attempts.DISPLAY_KEYS[len(single.option_order)]]):
        with pytest.raises(InvalidAnswer):
            save(direct, token, attempt.id, single.question.qid, shown, now)
    with pytest.raises(InvalidAnswer):
        save(direct, token, attempt.id, judge.question.qid, ["A"], now)
    assert stored_choices(single.id) is None  # nothing refused was stored

    other = citizens.make()
    other_token, _ = issue_token(db.session, other, DURING, 86_400)
    with pytest.raises(AttemptNotFound):
        save(direct, other_token, attempt.id, single.question.qid, ["A"], now)
    with pytest.raises(DeadlinePassed):
        save(direct, token, attempt.id, single.question.qid, ["A"], attempt.deadline + attempts.GRACE
             + timedelta(milliseconds=1))
    assert save(direct, token, attempt.id, single.question.qid, ["A"], attempt.deadline + attempts.GRACE) is True

    assert attempts.submit_by_token(direct, db.session, other_token, attempt.id, now, contest) is None
    assert attempts.submit_by_token(direct, db.session, token, attempt.id, now, contest) is not None
    with pytest.raises(DeadlinePassed):
        save(direct, token, attempt.id, single.question.qid, ["B"], now)
    assert attempts.submit_by_token(direct, db.session, token, attempt.id, now, contest) is None  # already done


def test_a_submit_grades_and_records_what_the_session_path_would(direct, player, contest, citizens, rng):
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=61, microseconds=1000)  # 61.001 s: exact milliseconds, no float rounding
    for n, item in enumerate(attempt.items):
        right = attempts.to_display(item, item.question.answer)
        wrong = [k for k in attempts.DISPLAY_KEYS[:len(item.option_order)] if k not in right][:1] or ["false"]
        if item.question.type == "judge":
            wrong = ["false"] if right == ["true"] else ["true"]
        attempts.save_answer_by_token(direct, token, attempt.id, item.question.qid, right if n % 3 else wrong, now)
    leaderboard.rebuild(db.session, contest)  # the board exists, as it does once a contest runs
    graded, holder = attempts.submit_by_token(direct, db.session, token, attempt.id, now, contest)

    assert (holder.id, holder.name, holder.district) == (citizen.id, citizen.name, citizen.district)
    db.session.expire_all()
    row = db.session.get(Attempt, attempt.id)
    assert (row.status, row.auto_submitted, row.finished_at, row.time_used_ms) == ("submitted", False, now, 61_001)
    assert (row.score, row.max_score, row.correct_count) == (graded.score, graded.max_score, graded.correct_count)
    for item in row.items:  # the verdicts the Python grader gives
        assert item.correct is attempts.grade(item)
    assert graded.correct_count == sum(1 for n in range(len(row.items)) if n % 3)
    assert [item.question.qid for item in graded.items] == [item.question.qid for item in row.items]
    standing = leaderboard.standing(contest, citizen)
    assert standing["best"] == {"score": graded.score, "time_used_ms": 61_001}
    assert graded.rank == standing["rank"] == {"city": 1, "district": 1}  # told by the record script itself


def test_a_late_submit_is_expired_at_the_deadline(direct, player, contest):
    citizen, token, attempt = player
    graded, _ = attempts.submit_by_token(direct, db.session, token, attempt.id,
                                         attempt.deadline + timedelta(minutes=3), contest)
    assert (graded.status, graded.auto_submitted, graded.finished_at) == ("expired", True, attempt.deadline)
    assert graded.time_used_ms == contest.time_limit_s * 1000


def test_every_acknowledged_save_racing_a_submit_is_graded(app, direct, player, contest):
    """Saves on all questions at once with the submit: each one either is acknowledged and
    graded, or refused and absent; none is acknowledged and then lost."""
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=30)
    acknowledged, refused = {}, set()
    start = threading.Barrier(len(attempt.items) + 1)

    def save(item_id, qid, shown):
        # Plain values only: the test's ORM objects belong to this thread's session, which
        # the submit's board rebuild commits (and so expires) while the savers run.
        with app.app_context():
            start.wait()
            try:
                attempts.save_answer_by_token(direct, token, attempt.id, qid, shown, now)
                acknowledged[item_id] = shown
            except DeadlinePassed:
                refused.add(item_id)

    threads = [threading.Thread(target=save, args=(item.id, item.question.qid,
                                                   attempts.to_display(item, item.question.answer)))
               for item in attempt.items]
    for thread in threads:
        thread.start()
    start.wait()
    graded, _ = attempts.submit_by_token(direct, db.session, token, attempt.id, now, contest)
    for thread in threads:
        thread.join()

    assert len(acknowledged) + len(refused) == len(attempt.items)
    by_id = {item.id: item for item in graded.items}
    for item_id in acknowledged:
        assert by_id[item_id].correct is True
    for item_id in refused:
        assert by_id[item_id].choices is None and by_id[item_id].correct is False
    assert graded.correct_count == len(acknowledged)


def test_a_dropped_connection_is_replaced_without_failing_the_request(direct, player):
    citizen, token, attempt = player
    item = attempt.items[0]
    shown = ["true"] if item.question.type == "judge" else ["A"]
    assert attempts.save_answer_by_token(direct, token, attempt.id, item.question.qid, shown, DURING)
    db.session.commit()
    killed = db.session.scalars(text(  # what a database restart does to every pooled connection
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
    db.session.commit()
    assert any(killed)  # the direct pool's connection was among them
    assert attempts.save_answer_by_token(direct, token, attempt.id, item.question.qid, shown, DURING)


def test_a_database_error_surfaces_as_sqlalchemys_and_the_pool_stays_usable(direct, player):
    citizen, token, attempt = player
    broken = hot_sql.Statement("SELECT id FROM no_such_table WHERE id = :id")
    with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
        hot_sql.direct_rows(direct, broken, {"id": 1})
    assert "[SQL: SELECT id FROM no_such_table" in str(raised.value)  # names the statement that failed
    item = attempt.items[0]
    shown = ["true"] if item.question.type == "judge" else ["A"]
    assert attempts.save_answer_by_token(direct, token, attempt.id, item.question.qid, shown, DURING)


def test_me_counts_on_the_direct_pool_equal_the_session_path(direct, player, citizens, contest):
    citizen, _, attempt = player
    token, _ = issue_token(db.session, citizen, DURING, 3 * 86_400)
    later = DURING + timedelta(days=1)
    for now in (DURING, later):
        holder, today, total = attempts.holder_and_counts(direct, token, contest, now)
        assert (holder.id, holder.district) == (citizen.id, citizen.district)
        assert (today, total) == attempts.attempt_counts(db.session, citizen, contest, now)
    assert attempts.holder_and_counts(direct, token, contest, later)[1:] == (0, 1)

    newcomer = citizens.make()  # no attempt yet: still found, with nothing counted
    fresh, _ = issue_token(db.session, newcomer, DURING, 60)
    assert attempts.holder_and_counts(direct, fresh, contest, DURING)[1:] == (0, 0)
    assert attempts.holder_and_counts(direct, fresh, contest, DURING + timedelta(seconds=61)) is None  # expired
    assert attempts.holder_and_counts(direct, "not-a-token", contest, DURING) is None


def test_a_batch_of_saves_gives_each_the_outcome_it_would_have_alone(direct, player, citizens, contest, rng, caplog):
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=30)
    other = citizens.make()
    other_token, _ = issue_token(db.session, other, DURING, 86_400)
    finished_citizen = citizens.make()
    finished_token, _ = issue_token(db.session, finished_citizen, DURING, 86_400)
    finished, _ = attempts.start_attempt(db.session, finished_citizen, contest, DURING, rng)
    attempts.submit_by_token(direct, db.session, finished_token, finished.id, now, contest)
    single = next(i for i in attempt.items if i.question.type == "single")
    multi = next(i for i in attempt.items if i.question.type == "multiple")
    judge = next(i for i in attempt.items if i.question.type == "judge")
    late = attempt.deadline + attempts.GRACE + timedelta(milliseconds=1)
    cases = [  # (token, attempt, qid, shown, now, what the citizen is told)
        (token, attempt.id, single.question.qid, ["B"], now, True),
        (token, attempt.id, multi.question.qid, ["C", "A"], now, True),
        (token, attempt.id, judge.question.qid, ["false"], now, True),
        ("not-a-token", attempt.id, single.question.qid, ["A"], now, False),
        (other_token, attempt.id, single.question.qid, ["A"], now, AttemptNotFound),
        (finished_token, finished.id, finished.items[0].question.qid, ["true"], now, DeadlinePassed),
        (token, attempt.id, "no-such-question", ["A"], now, InvalidAnswer),
        (token, attempt.id, single.question.qid, ["A", "B"], now, InvalidAnswer),
        (token, attempt.id, judge.question.qid, ["A"], now, InvalidAnswer),
        (token, attempt.id, multi.question.qid, [attempts.DISPLAY_KEYS[len(multi.option_order)]], now, InvalidAnswer),
        (token, attempt.id, multi.question.qid, ["B"], late, DeadlinePassed),
        (token, attempt.id, single.question.qid, ["A"], now, True),  # the same item again: this one is kept
    ]
    values = [attempts.save_values(t, a, q, shown, at) for t, a, q, shown, at, _ in cases]
    rows = hot_sql.save_batch(direct, values)

    assert "one by one" not in caplog.text  # answered by the batch statement, not the fallback
    assert len(rows) == len(cases)
    for row, (_, _, qid, shown, at, told) in zip(rows, cases, strict=True):
        if isinstance(told, bool):
            assert attempts.save_outcome(row, qid, shown, at) is told
        else:
            with pytest.raises(told):
                attempts.save_outcome(row, qid, shown, at)
    assert stored_choices(single.id) == attempts.to_bank_keys("single", single.option_order, ["A"])
    assert stored_choices(multi.id) == attempts.to_bank_keys("multiple", multi.option_order, ["C", "A"])
    assert stored_choices(judge.id) == ["false"]
    assert db.session.get(AttemptQuestion, judge.id).saved_at == now
    assert stored_choices(finished.items[0].id) is None


def test_saves_from_many_threads_at_once_are_all_stored(app, direct, contest, citizens, rng):
    players = []
    for _ in range(4):
        citizen = citizens.make()
        token, _ = issue_token(db.session, citizen, DURING, 86_400)
        attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
        players.extend((token, attempt.id, item.id, item.question.qid, attempts.to_display(item, item.question.answer))
                       for item in attempt.items)
    now = DURING + timedelta(seconds=30)
    start = threading.Barrier(len(players))
    told = {}

    def save(token, attempt_id, item_id, qid, shown):
        with app.app_context():
            start.wait()
            told[item_id] = attempts.save_answer_by_token(direct, token, attempt_id, qid, shown, now)

    threads = [threading.Thread(target=save, args=p) for p in players]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert told == {item_id: True for _, _, item_id, _, _ in players}
    db.session.expire_all()
    for _, _, item_id, _, shown in players:
        item = db.session.get(AttemptQuestion, item_id)
        assert attempts.to_display(item, item.choices) == shown


def test_a_batch_of_submits_gives_each_the_outcome_it_would_have_alone(direct, player, citizens, contest, rng,
                                                                        caplog):
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=30)
    second = citizens.make()
    second_token, _ = issue_token(db.session, second, DURING, 86_400)
    second_attempt, _ = attempts.start_attempt(db.session, second, contest, DURING, rng)
    done = citizens.make()
    done_token, _ = issue_token(db.session, done, DURING, 86_400)
    done_attempt, _ = attempts.start_attempt(db.session, done, contest, DURING, rng)
    attempts.submit_by_token(direct, db.session, done_token, done_attempt.id, now, contest)
    item = second_attempt.items[0]
    attempts.save_answer_by_token(direct, second_token, second_attempt.id, item.question.qid,
                                  attempts.to_display(item, item.question.answer), now)

    def values(t, attempt_id):
        return {"token_hash": token_digest(t), "attempt_id": attempt_id, "auto": False, "now": now,
                "cutoff": now - attempts.GRACE}

    # Out of id order on purpose (the batch claims in ascending id), with a duplicate.
    results = hot_sql.submit_batch(direct, [
        values(second_token, second_attempt.id), values("not-a-token", attempt.id), values(token, attempt.id),
        values(second_token, attempt.id), values(done_token, done_attempt.id), values(token, attempt.id),
    ])

    assert "one by one" not in caplog.text  # one message, not the fallback
    claimed = [bool(claim) for claim, _ in results]
    assert claimed == [True, False, True, False, False, False]  # the second submit of one attempt finds it done
    for (claim, paper), owner in ((results[0], second), (results[2], citizen)):
        assert claim[0].user_id == owner.id and len([row for row in paper if row.id is not None]) == 20
    db.session.expire_all()
    assert db.session.get(Attempt, attempt.id).status == "submitted"
    graded_second = db.session.get(Attempt, second_attempt.id)
    assert (graded_second.status, graded_second.correct_count) == ("submitted", 1)  # the saved answer counted


def test_submits_racing_saves_of_several_citizens_grade_every_acknowledged_save(app, direct, contest, citizens,
                                                                               rng):
    players = []
    for _ in range(4):
        citizen = citizens.make()
        token, _ = issue_token(db.session, citizen, DURING, 86_400)
        attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
        players.append((token, attempt.id, [(item.id, item.question.qid, attempts.to_display(item, item.question.answer))
                                            for item in attempt.items]))
    now = DURING + timedelta(seconds=30)
    leaderboard.rebuild(db.session, contest)  # the board exists, as it does once a contest runs
    start = threading.Barrier(sum(len(items) + 1 for _, _, items in players))
    acknowledged, graded = set(), {}

    def save(token, attempt_id, item_id, qid, shown):
        with app.app_context():
            start.wait()
            try:
                attempts.save_answer_by_token(direct, token, attempt_id, qid, shown, now)
                acknowledged.add(item_id)
            except DeadlinePassed:
                pass

    def submit(token, attempt_id):
        with app.app_context():
            start.wait()
            result = attempts.submit_by_token(direct, db.session, token, attempt_id, now, contest)
            graded[attempt_id] = {item.id: item.correct for item in result[0].items}

    threads = [threading.Thread(target=submit, args=(token, attempt_id)) for token, attempt_id, _ in players]
    threads += [threading.Thread(target=save, args=(token, attempt_id, *item))
                for token, attempt_id, items in players for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(graded) == {attempt_id for _, attempt_id, _ in players}
    verdicts = {item_id: correct for by_item in graded.values() for item_id, correct in by_item.items()}
    for item_id, correct in verdicts.items():
        assert correct is (item_id in acknowledged)  # every acknowledged save graded, nothing else
