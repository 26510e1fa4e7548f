from datetime import timedelta

from conftest import DURING

from quiz import leaderboard
from quiz.contest import attempts
from quiz.extensions import db


def test_start_answer_submit_ranks(contest, citizens, rng):
    citizen = citizens.make(name="张三丰")
    attempt, created = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    assert created and attempt.question_count == 20
    for item in attempt.items:
        correct = attempts.to_display(item, item.question.answer)
        attempts.save_answer(db.session, citizen, attempt.id, item.question.qid, correct, DURING + timedelta(seconds=30))
    done = attempts.submit_attempt(db.session, citizen, attempt.id, DURING + timedelta(seconds=90))
    assert done.score == done.max_score == 100
    assert done.time_used_ms == 90_000
    board = leaderboard.top(contest)
    assert board["entries"][0] == {"rank": 1, "name": "张*丰", "district": "wujin", "score": 100, "time_used_ms": 90_000}


def test_options_are_relabelled_and_the_citizens_key_is_graded_by_its_text(contest, citizens, rng):
    """Options are shuffled and shown as A, B, …: choosing the right text is right whatever its letter."""
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    choices = [item for item in attempt.items if item.question.type != "judge"]
    assert any(item.option_order != sorted(item.option_order) for item in choices)  # shuffled somewhere
    for item in attempt.items:
        texts = dict(item.question.options)
        right_texts = {texts[k] for k in item.question.answer} if item.question.type != "judge" else None
        if right_texts is None:
            picked = list(item.question.answer)
        else:
            picked = [o["key"] for o in attempts.display_options(item) if o["text"] in right_texts]
        attempts.save_answer(db.session, citizen, attempt.id, item.question.qid, picked, DURING + timedelta(seconds=5))
    done = attempts.submit_attempt(db.session, citizen, attempt.id, DURING + timedelta(seconds=60))
    assert done.correct_count == done.question_count == 20
