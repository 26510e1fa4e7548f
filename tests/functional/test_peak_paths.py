"""The paths of a contest's morning peak (issue 20): papers drawn in SQL from a window of
the bank, never the whole pool, with the same paper rules; password hashing bounded per
worker so a burst of logins cannot hold every greenlet or thread. Speeds live in bench/."""
import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from conftest import DURING
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from quiz import passwords
from quiz.config import Config
from quiz.contest import attempts, paper
from quiz.extensions import db
from quiz.models import Question


def bank_questions(contest) -> list[Question]:
    return db.session.scalars(select(Question).where(Question.bank_id == contest.bank_id)).all()


def test_a_paper_follows_the_contest_rows_from_the_pinned_bank(contest, citizens, rng):
    attempt, _ = attempts.start_attempt(db.session, citizens.make(), contest, DURING, rng)
    questions = [item.question for item in attempt.items]
    assert len({q.qid for q in questions}) == contest.questions_per_attempt == 20
    assert {q.bank_id for q in questions} == {contest.bank_id}
    counts = Counter(q.category for q in questions)
    assert counts["achievements"] >= 4 and counts["spirit"] >= 2
    assert sum(q.type == "multiple" for q in questions) >= 3
    assert sum(q.difficulty == 3 for q in questions) >= 2
    for item in attempt.items:  # each item shows its own question's options, shuffled
        assert sorted(item.option_order) == sorted(key for key, _ in item.question.options)


def test_seven_attempts_never_repeat_a_question_while_the_bank_has_unserved_ones(contest, citizens, rng):
    citizen = citizens.make()
    seen: set = set()
    for day in range(contest.max_attempts):
        now = DURING + timedelta(days=day)
        attempt, created = attempts.start_attempt(db.session, citizen, contest, now, rng)
        assert created
        qids = {item.question.qid for item in attempt.items}
        assert len(qids) == 20 and not qids & seen, f"attempt {day + 1} repeats {qids & seen}"
        seen |= qids
        attempts.submit_attempt(db.session, citizen, attempt.id, now + timedelta(minutes=1))


def test_a_row_short_of_unserved_questions_is_filled_with_served_ones(contest, rng):
    spirit = [q for q in bank_questions(contest) if q.category == "spirit"]
    fresh, served = spirit[0], {q.qid for q in spirit[1:]}
    for _ in range(20):
        drawn = paper.draw_paper(db.session, contest.bank_id, [{"category": "spirit", "count": 3}], 3, served, rng)
        assert len({q.id for q in drawn}) == 3
        assert all(q.qid in served or q.qid == fresh.qid for q in drawn)
        assert fresh.qid in {q.qid for q in drawn}  # the unserved one always comes first


def test_retired_questions_are_never_drawn(contest, rng):
    achievements = [q for q in bank_questions(contest) if q.category == "achievements"]
    kept = {q.id for q in achievements[:5]}
    db.session.execute(update(Question).where(Question.bank_id == contest.bank_id, Question.category == "achievements",
                                              Question.id.not_in(kept)).values(retired=True))
    db.session.commit()
    for _ in range(10):
        drawn = paper.draw_paper(db.session, contest.bank_id, [{"category": "achievements", "count": 4}], 4, set(), rng)
        assert {q.id for q in drawn} <= kept and len(drawn) == 4


def test_every_question_of_a_row_can_be_drawn_and_papers_differ(contest):
    rng = random.Random(5)
    spirit = {q.id for q in bank_questions(contest) if q.category == "spirit"}
    papers = [paper.draw_paper(db.session, contest.bank_id, contest.paper, 20, set(), rng) for _ in range(300)]
    drawn_spirit = {q.id for p in papers for q in p if q.id in spirit}
    assert drawn_spirit == spirit  # no question is left out of the draw
    assert len({frozenset(q.id for q in p) for p in papers}) == len(papers)  # no two papers alike
    # no question turns up far more often than its fair share (2 of the row's questions per paper)
    share = Counter(q.id for p in papers for q in p if q.id in spirit)
    assert max(share.values()) <= 6 * 300 * 2 / len(spirit)


def test_practice_papers_are_drawn_the_same_way(practice_contest, citizens, rng):
    citizen = citizens.make()
    attempt, _ = attempts.start_practice(db.session, citizen, practice_contest, DURING, rng, per_day=5)
    assert attempt.practice and attempt.question_count == len(attempt.items) == 3  # test-bank has three questions


# ---- password hashing ------------------------------------------------------------------

def scrypt_cost(password_hash: str) -> tuple[int, int, int]:
    _, n, r, p = password_hash.split("$", 1)[0].split(":")
    return int(n), int(r), int(p)


OWASP_SCRYPT = {(2 ** 17, 8, 1), (2 ** 16, 8, 2), (2 ** 15, 8, 3), (2 ** 14, 8, 5), (2 ** 13, 8, 10)}


def test_a_new_attempt_answers_from_its_drawn_rows_what_a_reload_shows(api, citizens, open_contest):
    citizens.make(phone="13900000007")
    api.login("13900000007")
    response = api.post("/api/v1/attempts")
    assert response.status_code == 201, response.get_json()
    first = response.get_json()["attempt"]
    assert len(first["questions"]) == 20
    again = api.post("/api/v1/attempts")  # a resume: loaded back from the database
    assert again.status_code == 200
    shown = api.get(f"/api/v1/attempts/{first['id']}").get_json()["attempt"]
    for reloaded in (again.get_json()["attempt"], shown):
        assert reloaded["questions"] == first["questions"]  # same stems, options in the same shuffled order
        assert reloaded["deadline"] == first["deadline"] and reloaded["id"] == first["id"]


def test_a_start_in_its_turn_sees_the_limits_and_the_served_set(contest, citizens, rng):
    citizen = citizens.make()
    now = DURING
    for _ in range(contest.attempts_per_day):
        attempt, created = attempts.begin_attempt(db.session, citizen, contest, now, rng)
        assert created
        assert attempts.begin_attempt(db.session, citizen, contest, now, rng)[0].id == attempt.id  # resumed
        attempts.submit_attempt(db.session, citizen, attempt.id, now + timedelta(minutes=1))
        now += timedelta(minutes=2)
    with pytest.raises(attempts.DailyLimitReached):
        attempts.begin_attempt(db.session, citizen, contest, now, rng)


def test_password_hashes_meet_owasp_scrypt_minimum(app_with, tmp_path):
    production = Config(str(tmp_path))
    assert getattr(production, "PASSWORD_HASH_METHOD", passwords.PASSWORD_HASH) == passwords.PASSWORD_HASH
    with app_with(PASSWORD_HASH_METHOD=passwords.PASSWORD_HASH).app_context():
        hashed = passwords.hash_password("correct horse battery")
        n, r, p = scrypt_cost(hashed)
        assert any(n >= mn and r >= mr and p >= mp for mn, mr, mp in OWASP_SCRYPT)
        assert passwords.check_password(hashed, "correct horse battery")
        assert not passwords.check_password(hashed, "wrong horse battery")
        # a hash stored at werkzeug's older default still verifies
        old = generate_password_hash("correct horse battery", method="scrypt:32768:8:1")
        assert passwords.check_password(old, "correct horse battery")


def test_at_most_the_pool_size_hash_at_once(app):
    running, most, lock = 0, 0, threading.Lock()

    def slow_scrypt():
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return True

    pool = passwords.HashingPool(size=2, queue=10, wait_s=5)
    size = pool.size
    threads = [threading.Thread(target=pool.run, args=(slow_scrypt,)) for _ in range(size * 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert most == size


def test_a_hash_beyond_the_queue_is_refused_at_once_and_a_waiting_one_after_its_wait(app):
    pool = passwords.HashingPool(size=1, queue=1, wait_s=0.3)
    release = threading.Event()
    holder = threading.Thread(target=pool.run, args=(release.wait,))
    holder.start()
    waited: list = []

    def wait_in_queue():
        started = time.monotonic()
        try:
            pool.run(lambda: True)
        except passwords.HashingBusy:
            waited.append(time.monotonic() - started)

    try:
        time.sleep(0.05)
        waiter = threading.Thread(target=wait_in_queue)
        waiter.start()
        time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(passwords.HashingBusy):
            pool.run(lambda: True)  # one hashing, one waiting: no room
        assert time.monotonic() - started < 0.2
        waiter.join(timeout=5)
        assert waited and waited[0] >= 0.25  # the waiting one gave up after its wait
    finally:
        release.set()
        holder.join(timeout=5)
    assert pool.run(lambda: "done") == "done"


def test_a_busy_hashing_pool_is_a_503_with_retry_after_not_a_500(app, client, citizens, monkeypatch):
    citizens.make(phone="13912345678")
    busy = passwords.HashingPool(size=1, queue=0, wait_s=0.1)
    monkeypatch.setattr(passwords, "HASHING", busy)
    release = threading.Event()
    holder = threading.Thread(target=busy.run, args=(release.wait,))
    holder.start()
    try:
        time.sleep(0.05)
        response = client.post("/api/v1/auth/token", json={"phone": "13912345678", "password": "password123"})
    finally:
        release.set()
        holder.join(timeout=5)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == "busy"
    assert client.post("/api/v1/auth/token", json={"phone": "13912345678", "password": "password123"}).status_code == 200
