"""The attempt statements (quiz/contest/attempt_sql.py), reached by a bearer token and by
a signed-in user alike: what they store, what they refuse and why, how they grade, in
batches and under races; and the direct pool surviving a dropped connection."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy.exc
from conftest import DURING
from sqlalchemy import text

from quiz import leaderboard
from quiz.accounts import Caller, issue_token, token_digest
from quiz.contest import attempts
from quiz.contest.errors import AttemptNotFound, DeadlinePassed, InvalidAnswer, NotSignedIn
from quiz.db import direct as direct_db
from quiz.extensions import db
from quiz.models import Attempt, AttemptQuestion


def bank_keys(item_type: str, option_order: list, shown: list) -> list[str]:
    """Test oracle: the bank keys a valid displayed choice stands for."""
    if item_type == "judge":
        return list(shown)
    return sorted(option_order[attempts.DISPLAY_KEYS.index(c)] for c in shown)


def grade(item) -> bool:
    """Test oracle of the grading rule: chosen keys equal the answer's, at least one chosen."""
    return bool(item.choices) and sorted(item.choices) == sorted(item.question.answer)


@pytest.fixture
def direct(app):
    return direct_db.pool_of(db.engine)


def save_by_token(token, attempt_id, qid, shown, now) -> bool:
    """An API save: True when saved, False for a bad token, else the refusal is raised."""
    try:
        attempts.save_answer(db.session, Caller.bearer(token), attempt_id, qid, shown, now)
    except NotSignedIn:
        return False
    return True


def submit_by_token(token, attempt_id, now, contest):
    """An API hand-in: the Graded attempt, or None for a bad token or someone else's attempt."""
    try:
        return attempts.submit_attempt(db.session, Caller.bearer(token), attempt_id, now, contest=contest)
    except (NotSignedIn, AttemptNotFound):
        return None


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
        assert save_by_token(token, attempt.id, item.question.qid, shown, now) is True
        assert stored_choices(item.id) == bank_keys(item.question.type, item.option_order, shown)
        assert db.session.get(AttemptQuestion, item.id).saved_at == now
    first = next(item for item in attempt.items if item.question.type != "judge")
    save_by_token(token, attempt.id, first.question.qid, [], now)
    assert stored_choices(first.id) == []  # cleared, not NULL


def test_refusals_name_the_same_problem_as_the_session_path(direct, player, citizens, contest, rng):
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=30)
    single = next(i for i in attempt.items if i.question.type == "single")
    judge = next(i for i in attempt.items if i.question.type == "judge")
    save = save_by_token

    assert save("not-a-token", attempt.id, single.question.qid, ["A"], now) is False
    with pytest.raises(InvalidAnswer) as refused:
        save(token, attempt.id, "no-such-question", ["A"], now)
    assert refused.value.field == "question_id"
    for shown in (["A", "B"], ["true"], [attempts.DISPLAY_KEYS[len(single.option_order)]]):
        with pytest.raises(InvalidAnswer):
            save(token, attempt.id, single.question.qid, shown, now)
    with pytest.raises(InvalidAnswer):
        save(token, attempt.id, judge.question.qid, ["A"], now)
    assert stored_choices(single.id) is None  # nothing refused was stored

    other = citizens.make()
    other_token, _ = issue_token(db.session, other, DURING, 86_400)
    with pytest.raises(AttemptNotFound):
        save(other_token, attempt.id, single.question.qid, ["A"], now)
    with pytest.raises(DeadlinePassed):
        save(token, attempt.id, single.question.qid, ["A"], attempt.deadline + attempts.GRACE
             + timedelta(milliseconds=1))
    assert save(token, attempt.id, single.question.qid, ["A"], attempt.deadline + attempts.GRACE) is True

    assert submit_by_token(other_token, attempt.id, now, contest) is None
    first = submit_by_token(token, attempt.id, now, contest)
    with pytest.raises(DeadlinePassed):
        save(token, attempt.id, single.question.qid, ["B"], now)
    again = submit_by_token(token, attempt.id, now, contest)  # already done: the same result
    assert (again.score, again.finished_at, [i.correct for i in again.items]) == \
        (first.score, first.finished_at, [i.correct for i in first.items])


def test_a_submit_grades_and_records_what_the_session_path_would(direct, player, contest, citizens, rng):
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=61, microseconds=1000)  # 61.001 s: exact milliseconds, no float rounding
    for n, item in enumerate(attempt.items):
        right = attempts.to_display(item, item.question.answer)
        wrong = [k for k in attempts.DISPLAY_KEYS[:len(item.option_order)] if k not in right][:1] or ["false"]
        if item.question.type == "judge":
            wrong = ["false"] if right == ["true"] else ["true"]
        save_by_token(token, attempt.id, item.question.qid, right if n % 3 else wrong, now)
    leaderboard.rebuild(db.session, contest)  # the board exists, as it does once a contest runs
    graded = submit_by_token(token, attempt.id, now, contest)
    holder = graded.holder

    assert (holder.id, holder.name, holder.district) == (citizen.id, citizen.name, citizen.district)
    db.session.expire_all()
    row = db.session.get(Attempt, attempt.id)
    assert (row.status, row.auto_submitted, row.finished_at, row.time_used_ms) == ("submitted", False, now, 61_001)
    assert (row.score, row.max_score, row.correct_count) == (graded.score, graded.max_score, graded.correct_count)
    for item in row.items:  # the verdicts the Python grader gives
        assert item.correct is grade(item)
    assert graded.correct_count == sum(1 for n in range(len(row.items)) if n % 3)
    assert [item.question.qid for item in graded.items] == [item.question.qid for item in row.items]
    standing = leaderboard.standing(contest, citizen)
    assert standing["best"] == {"score": graded.score, "time_used_ms": 61_001}
    assert graded.rank == standing["rank"] == {"city": 1, "district": 1}  # told by the record script itself


def test_a_late_submit_is_expired_at_the_deadline(direct, player, contest):
    citizen, token, attempt = player
    graded = submit_by_token(token, attempt.id, attempt.deadline + timedelta(minutes=3), contest)
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
                save_by_token(token, attempt.id, qid, shown, now)
                acknowledged[item_id] = shown
            except DeadlinePassed:
                refused.add(item_id)

    threads = [threading.Thread(target=save, args=(item.id, item.question.qid,
                                                   attempts.to_display(item, item.question.answer)))
               for item in attempt.items]
    for thread in threads:
        thread.start()
    start.wait()
    graded = submit_by_token(token, attempt.id, now, contest)
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
    assert save_by_token(token, attempt.id, item.question.qid, shown, DURING)
    db.session.commit()
    killed = db.session.scalars(text(  # what a database restart does to every pooled connection
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
    db.session.commit()
    assert any(killed)  # the direct pool's connection was among them
    assert save_by_token(token, attempt.id, item.question.qid, shown, DURING)


def test_a_database_error_surfaces_as_sqlalchemys_and_the_pool_stays_usable(direct, player):
    citizen, token, attempt = player
    broken = direct_db.Statement("SELECT id FROM no_such_table WHERE id = :id")
    with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
        direct_db.rows(direct, broken, {"id": 1})
    assert "[SQL: SELECT id FROM no_such_table" in str(raised.value)  # names the statement that failed
    item = attempt.items[0]
    shown = ["true"] if item.question.type == "judge" else ["A"]
    assert save_by_token(token, attempt.id, item.question.qid, shown, DURING)


def test_me_counts_by_token_equal_the_signed_in_counts(direct, player, citizens, contest):
    citizen, _, attempt = player
    token, _ = issue_token(db.session, citizen, DURING, 3 * 86_400)
    later = DURING + timedelta(days=1)
    for now in (DURING, later):
        holder, counts = attempts.holder_allowance(db.session, token, contest, now)
        assert (holder.id, holder.district) == (citizen.id, citizen.district)
        assert counts == attempts.attempt_allowance(db.session, citizen, contest, now)
    assert attempts.holder_allowance(db.session, token, contest, later)[1].today == 0
    assert attempts.holder_allowance(db.session, token, contest, later)[1].total == 1

    newcomer = citizens.make()  # no attempt yet: still found, with nothing counted
    fresh, _ = issue_token(db.session, newcomer, DURING, 60)
    assert attempts.holder_allowance(db.session, fresh, contest, DURING)[1].total == 0
    assert attempts.holder_allowance(db.session, fresh, contest, DURING + timedelta(seconds=61)) is None  # expired
    assert attempts.holder_allowance(db.session, "not-a-token", contest, DURING) is None


def test_a_batch_of_saves_gives_each_the_outcome_it_would_have_alone(direct, player, citizens, contest, rng, caplog):
    citizen, token, attempt = player
    now = DURING + timedelta(seconds=30)
    other = citizens.make()
    other_token, _ = issue_token(db.session, other, DURING, 86_400)
    finished_citizen = citizens.make()
    finished_token, _ = issue_token(db.session, finished_citizen, DURING, 86_400)
    finished, _ = attempts.start_attempt(db.session, finished_citizen, contest, DURING, rng)
    submit_by_token(finished_token, finished.id, now, contest)
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
    values = [attempts._save_row(Caller.bearer(t), a, q, shown, at) for t, a, q, shown, at, _ in cases]
    rows = attempts._save_batch(direct, values)

    assert "one by one" not in caplog.text  # answered by the batch statement, not the fallback
    assert len(rows) == len(cases)
    for row, (_, _, qid, _, _, told) in zip(rows, cases, strict=True):
        if told is True:
            assert row.verdict == "saved"
        elif told is False:
            assert row.verdict == "unauthorized"
        else:
            assert isinstance(attempts._refusal(row, qid), told)
    assert stored_choices(single.id) == bank_keys("single", single.option_order, ["A"])
    assert stored_choices(multi.id) == bank_keys("multiple", multi.option_order, ["C", "A"])
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
            told[item_id] = save_by_token(token, attempt_id, qid, shown, now)

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
    submit_by_token(done_token, done_attempt.id, now, contest)
    item = second_attempt.items[0]
    save_by_token(second_token, second_attempt.id, item.question.qid,
                                  attempts.to_display(item, item.question.answer), now)

    def values(t, attempt_id):
        return {"user_id": None, "token_hash": token_digest(t), "attempt_id": attempt_id, "auto": False, "now": now,
                "cutoff": attempts.cutoff(now)}

    # Out of id order on purpose (the batch claims in ascending id), with a duplicate.
    results = attempts._submit_batch(direct, [
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
                save_by_token(token, attempt_id, qid, shown, now)
                acknowledged.add(item_id)
            except DeadlinePassed:
                pass

    def submit(token, attempt_id):
        with app.app_context():
            start.wait()
            result = submit_by_token(token, attempt_id, now, contest)
            graded[attempt_id] = {item.id: item.correct for item in result.items}

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
