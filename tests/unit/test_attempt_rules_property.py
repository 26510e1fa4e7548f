"""Property test: random papers, choices and timings run through the real save, claim and
grade statements equal a plain Python statement of the rules (the oracle below, which
exists only here)."""
from datetime import timedelta

import pytest
import yaml
from conftest import DURING
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quiz.accounts import Caller
from quiz.bank.importer import import_bank
from quiz.clock import local_day
from quiz.contest import attempts
from quiz.contest.errors import ContestError, DeadlinePassed, InvalidAnswer
from quiz.extensions import db
from quiz.models import Attempt, AttemptQuestion, Question

KEYS = "ABCDEFGH"
TIME_LIMIT = timedelta(minutes=10)


def _bank_yaml() -> bytes:
    """Questions of every type and option count the format allows (2-8 options)."""
    questions = []
    for n in range(2, 9):
        options = {KEYS[i]: f"选项{i}" for i in range(n)}
        questions.append({"id": f"s-{n}", "type": "single", "category": "c", "difficulty": 1, "stem": f"单选{n}",
                          "options": dict(options), "answer": KEYS[n - 1]})
        questions.append({"id": f"m-{n}", "type": "multiple", "category": "c", "difficulty": 2, "stem": f"多选{n}",
                          "options": dict(options), "answer": list(KEYS[:n:2]) if n > 2 else ["A", "B"]})
    for truth in (True, False):
        questions.append({"id": f"j-{str(truth).lower()}", "type": "judge", "category": "c", "difficulty": 1, "stem": f"判断{truth}",
                          "answer": truth})
    for question in questions:
        question["explanation"] = "测试"
    return yaml.safe_dump({"bank": "prop", "title": "性质测试", "version": 1, "categories": {"c": "测试"},
                           "questions": questions}, allow_unicode=True).encode()


@pytest.fixture
def pool(app):
    import_bank(db.session, _bank_yaml(), "prop.yaml")
    return db.session.query(Question).order_by(Question.id).all()


# ---- the oracle -----------------------------------------------------------------

def oracle_save(question, option_order, shown, late: bool, finished: bool):
    """(error class or None, the bank keys stored) for one save, by the rules as written."""
    if finished or late:
        return DeadlinePassed, None
    if question.type == "judge":
        return (None, list(shown)) if shown in (["true"], ["false"]) else (InvalidAnswer, None)
    displayed = KEYS[:len(option_order)]
    if any(c not in displayed or len(c) != 1 for c in shown) or len(set(shown)) != len(shown):
        return InvalidAnswer, None
    if question.type == "single" and len(shown) > 1:
        return InvalidAnswer, None
    return None, sorted(option_order[displayed.index(c)] for c in shown)


def oracle_correct(question, stored) -> bool:
    return bool(stored) and sorted(stored) == sorted(question.answer)


# ---- random inputs --------------------------------------------------------------

choice_text = st.one_of(st.sampled_from(list(KEYS) + ["true", "false"]),
                        st.sampled_from(["@", "", "AB", "a", " A", "A\n", "I", "Z", "１", "真", "A,B", "[", "\\"]),
                        st.text(max_size=3))
saves = st.lists(st.tuples(st.integers(0, 19),  # which question (modulo the paper's size)
                           st.sampled_from(["valid", "valid", "near", "any"]),  # what kind of choices
                           st.integers(-5, 700)),  # seconds from the start; the deadline is at 600
                 min_size=1, max_size=25)


def choices_for(data, question, option_count: int, kind: str) -> list:
    """Choices for one question: mostly valid ones, else near misses (keys one past the last,
    repeats, look-alikes), else anything."""
    displayed = list(KEYS[:option_count])
    if kind == "valid":
        if question.type == "judge":
            return [data.draw(st.sampled_from(["true", "false"]))]
        most = 1 if question.type == "single" else option_count
        return data.draw(st.lists(st.sampled_from(displayed), unique=True, max_size=most))
    if kind == "near":
        edge = st.sampled_from([KEYS[option_count] if option_count < 8 else "I", "@", "", "AB", "a", " A", "A\n",
                                "true", "false", "１", "A,B"])
        base = data.draw(st.lists(st.sampled_from(displayed or ["A"]), max_size=2))
        return data.draw(st.permutations(base + [data.draw(edge)]))
    return data.draw(st.lists(choice_text, max_size=4))


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(paper=st.lists(st.integers(0, 15), min_size=1, max_size=12, unique=True), orders=st.randoms(),
       planned=saves, submit_at=st.integers(1, 800), grouped=st.booleans(), by_token=st.booleans(), data=st.data())
def test_statements_equal_the_oracle(pool, citizens, paper, orders, planned, submit_at, grouped, by_token, data):
    citizen = citizens.make()
    caller = Caller(user_id=citizen.id)
    if by_token:
        from quiz.accounts import issue_token

        token, _ = issue_token(db.session, citizen, DURING, 86_400)
        caller = Caller.bearer(token)
    contest = _a_contest()
    started = DURING
    attempt = Attempt(user_id=citizen.id, contest_id=contest.id, practice=False, status="active",
                      day=local_day(started), started_at=started, deadline=started + TIME_LIMIT,
                      question_count=len(paper))
    db.session.add(attempt)
    db.session.flush()
    items = []
    for position, index in enumerate(paper):
        question = pool[index]
        order = [key for key, _ in question.options]
        orders.shuffle(order)
        items.append(AttemptQuestion(attempt_id=attempt.id, question_id=question.id, position=position,
                                     option_order=order, points=1 + position % 3))
    db.session.add_all(items)
    db.session.commit()
    by_qid = {item.question.qid: item for item in items}

    expected = {item.id: None for item in items}
    submit_time = started + timedelta(seconds=submit_at)
    for which, kind, at in sorted(planned, key=lambda p: p[2]):
        now = started + timedelta(seconds=at)
        if now > submit_time:
            break  # the hand-in comes first: later saves are tried after it below
        item = items[which % len(items)]
        shown = choices_for(data, item.question, len(item.option_order), kind)
        late = now - attempts.GRACE > attempt.deadline
        error, stored = oracle_save(item.question, item.option_order, shown, late, finished=False)
        try:
            if grouped:
                attempts.save_answers(db.session, caller, attempt.id, {item.question.qid: shown}, now)
            else:
                attempts.save_answer(db.session, caller, attempt.id, item.question.qid, shown, now)
            outcome = None
        except ContestError as exc:
            outcome = type(exc)
        assert outcome is error, (item.question.type, item.option_order, shown, at)
        if error is None:
            expected[item.id] = stored

    graded = attempts.submit_attempt(db.session, caller, attempt.id, submit_time)
    late = submit_time - attempts.GRACE > attempt.deadline
    finished_at = min(submit_time, attempt.deadline)
    correct = {item.id: oracle_correct(item.question, expected[item.id]) for item in items}
    assert graded.status == ("expired" if late else "submitted")
    assert graded.auto_submitted is late
    assert graded.finished_at == finished_at
    assert graded.time_used_ms == (finished_at - started) // timedelta(milliseconds=1)
    assert graded.correct_count == sum(correct.values())
    assert graded.score == sum(item.points for item in items if correct[item.id])
    assert graded.max_score == sum(item.points for item in items)
    assert {item.id: (item.choices, item.correct) for item in graded.items} == \
        {item.id: (expected[item.id], correct[item.id]) for item in items}

    # After the hand-in every save is refused and nothing changes.
    for qid in by_qid:
        try:
            attempts.save_answer(db.session, caller, attempt.id, qid, ["A"], submit_time)
        except DeadlinePassed:
            pass
        else:
            raise AssertionError("a save after the hand-in was accepted")
    again = attempts.submit_attempt(db.session, caller, attempt.id, submit_time + timedelta(seconds=5))
    assert (again.score, again.finished_at, again.status) == (graded.score, graded.finished_at, graded.status)


def _a_contest():
    from quiz.models import Contest

    contest = db.session.query(Contest).filter_by(slug="prop").one_or_none()
    if contest is None:
        contest = Contest(slug="prop", title="性质测试", theme="", bank_slug="prop", starts_at=DURING - timedelta(days=1),
                          ends_at=DURING + timedelta(days=30), time_limit_s=600, questions_per_attempt=12, paper=[],
                          points={}, attempts_per_day=1000, max_attempts=1000, districts=[{"code": "wujin",
                                                                                             "name": "武进区"}],
                          updated_at=DURING)
        db.session.add(contest)
        db.session.commit()
    return contest
