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
