"""A clock per question (`question_time_s`): one question at a time, timed on the server
from when it was served, through the API, the pages without JavaScript and the finalizer.
Time is moved in SQL or passed as `now`; nothing sleeps."""
from datetime import timedelta

import pytest
from sqlalchemy import update

from quiz.bank.validator import BankInvalid
from quiz.clock import utcnow
from quiz.contest import attempts as attempt_rules
from quiz.contest import question_clock
from quiz.contest.definition import import_contest, validate_contest
from quiz.extensions import db
from quiz.models import Attempt
from quiz.web.admin.contest_form import finishing_keys
from tests.conftest import SAMPLE_CONTEST
from tests.functional.test_citizen_pages import Browser, current_attempt, text_of

QUESTION_TIME_S = 20  # 20 questions of 20 s: 400 s, within the file's time_limit_s of 600


def per_question_contest(extra: bytes = b"question_time_s: 20\n", shift_to_now: bool = True):
    return import_contest(db.session, SAMPLE_CONTEST.read_bytes() + b"\n" + extra, shift_to_now=shift_to_now)[0]


@pytest.fixture
def clock_contest(app, sample_bank):
    return per_question_contest()


def error_of(response, status):
    assert response.status_code == status, response.get_json()
    return response.get_json()["error"]


def attempt_row(attempt_id) -> Attempt:
    db.session.expire_all()
    return db.session.get(Attempt, attempt_id)


def shift_back(attempt_id, seconds: float):
    """Move the attempt's clock `seconds` into the past: as if it had started that long ago."""
    back = timedelta(seconds=seconds)
    db.session.execute(update(Attempt).where(Attempt.id == attempt_id).values(
        started_at=Attempt.started_at - back, deadline=Attempt.deadline - back,
        question_served_at=Attempt.question_served_at - back))
    db.session.commit()


def right_choices(attempt_id, position) -> tuple[str, list]:
    item = attempt_row(attempt_id).items[position]
    return item.question.qid, attempt_rules.to_display(item, item.question.answer)


@pytest.fixture
def started(api, citizens, clock_contest):
    citizens.make(phone="13900000001")
    api.login("13900000001")
    response = api.post("/api/v1/attempts")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["attempt"]


# ---- the contest file ------------------------------------------------------------------

def test_question_time_s_is_checked_and_may_stand_in_for_time_limit_s():
    base = SAMPLE_CONTEST.read_bytes()
    without_limit = b"\n".join(line for line in base.splitlines() if not line.startswith(b"time_limit_s:"))
    valid = validate_contest(without_limit + b"\nquestion_time_s: 30\n")
    assert (valid.question_time_s, valid.time_limit_s) == (30, 20 * 30)  # its questions' times
    assert validate_contest(base + b"\nquestion_time_s: 45\n").time_limit_s == 600  # whichever comes first
    for value in (b"4", b"601", b"true", b"'30'"):
        with pytest.raises(BankInvalid) as refused:
            validate_contest(base + b"\nquestion_time_s: " + value + b"\n")
        assert "question_time_s 必须是 5 到 600 之间的整数" in str(refused.value.problems)
    with pytest.raises(BankInvalid) as refused:
        validate_contest(without_limit + b"\nquestion_time_s: 600\n")  # 20 x 600 s: longer than any paper
    assert "questions_per_attempt × question_time_s 是 12000 秒" in str(refused.value.problems)
    with pytest.raises(BankInvalid) as refused:
        validate_contest(without_limit)
    assert "缺少键“time_limit_s”" in str(refused.value.problems)


def test_the_attempt_ends_with_its_last_question_or_time_limit_s_whichever_first(app, sample_bank, citizens):
    now = utcnow()
    contest = per_question_contest(b"question_time_s: 60\n")  # 20 x 60 s = 1200 s, time_limit_s 600
    attempt, _ = attempt_rules.start_attempt(db.session, citizens.make(), contest, now)
    assert attempt.deadline == now + timedelta(seconds=600)
    assert question_clock.current(attempt, now + timedelta(seconds=590)).deadline == attempt.deadline


def test_saving_the_console_form_keeps_question_time_s(clock_contest):
    assert finishing_keys(clock_contest)["question_time_s"] == QUESTION_TIME_S


# ---- the API ---------------------------------------------------------------------------

def test_the_api_serves_the_current_question_only_with_its_remaining_seconds(api, started):
    assert len(started["questions"]) == 1
    assert (started["position"], started["question_count"], started["question_time_s"]) == (1, 20, QUESTION_TIME_S)
    assert QUESTION_TIME_S - 1 <= started["question_seconds_left"] <= QUESTION_TIME_S
    row = attempt_row(started["id"])
    assert row.deadline == row.started_at + timedelta(seconds=20 * QUESTION_TIME_S)
    assert started["questions"][0]["id"] == row.items[0].question.qid

    shift_back(started["id"], 8)  # a refresh 8 s later: the same question, its clock running on
    again = api.get(f"/api/v1/attempts/{started['id']}").get_json()["attempt"]
    assert again["position"] == 1 and again["questions"][0]["id"] == started["questions"][0]["id"]
    assert QUESTION_TIME_S - 9 <= again["question_seconds_left"] <= QUESTION_TIME_S - 8


def test_an_answer_after_its_time_and_the_grace_is_refused(api, started):
    qid, right = right_choices(started["id"], 0)
    assert api.put(f"/api/v1/attempts/{started['id']}/answers/{qid}", json={"choices": right}).status_code == 200

    shift_back(started["id"], QUESTION_TIME_S + 1)  # 1 s late: within the grace
    assert api.put(f"/api/v1/attempts/{started['id']}/answers/{qid}", json={"choices": right}).status_code == 200
    shift_back(started["id"], 2)  # 3 s late
    late = api.put(f"/api/v1/attempts/{started['id']}/answers/{qid}", json={"choices": right})
    assert error_of(late, 409)["code"] == "deadline_passed"
    # The next question was served when the first one's time ran out.
    shown = api.get(f"/api/v1/attempts/{started['id']}").get_json()["attempt"]
    assert shown["position"] == 2 and shown["questions"][0]["id"] == right_choices(started["id"], 1)[0]
    assert QUESTION_TIME_S - 4 <= shown["question_seconds_left"] <= QUESTION_TIME_S - 3


def test_next_moves_on_one_way(api, started):
    first, _ = right_choices(started["id"], 0)
    second, _ = right_choices(started["id"], 1)
    moved = api.post(f"/api/v1/attempts/{started['id']}/next")
    assert moved.status_code == 200
    body = moved.get_json()["attempt"]
    assert body["position"] == 2 and [q["id"] for q in body["questions"]] == [second]
    assert body["question_seconds_left"] >= QUESTION_TIME_S - 1  # a fresh clock for the new question

    left = api.put(f"/api/v1/attempts/{started['id']}/answers/{first}", json={"choices": ["A"]})
    assert error_of(left, 409)["code"] == "deadline_passed"
    ahead = api.put(f"/api/v1/attempts/{started['id']}/answers/{right_choices(started['id'], 2)[0]}",
                    json={"choices": ["A"]})
    assert error_of(ahead, 422)["field"] == "question_id"  # not served yet

    # A repeated 下一题 for question 2 moves on once.
    for _ in range(2):
        assert api.post(f"/api/v1/attempts/{started['id']}/next", json={"position": 2}).get_json()["attempt"]["position"] == 3
    # Moving on early brings the end forward and never pushes it back.
    row = attempt_row(started["id"])
    assert row.deadline <= row.question_served_at + timedelta(seconds=18 * QUESTION_TIME_S)
    assert row.deadline <= row.started_at + timedelta(seconds=20 * QUESTION_TIME_S)


def test_the_last_next_hands_in_with_what_was_saved(api, started):
    attempt_id = started["id"]
    for position in range(20):
        if position < 3:
            qid, right = right_choices(attempt_id, position)
            assert api.put(f"/api/v1/attempts/{attempt_id}/answers/{qid}", json={"choices": right}).status_code == 200
        body = api.post(f"/api/v1/attempts/{attempt_id}/next").get_json()["attempt"]
    assert body["status"] == "submitted" and body["result"]["correct_count"] == 3
    again = api.post(f"/api/v1/attempts/{attempt_id}/next")  # finished: shown as GET shows it
    assert again.status_code == 200 and again.get_json()["attempt"]["result"]["correct_count"] == 3


def test_an_abandoned_attempt_is_finalized_with_what_was_saved(api, started):
    qid, right = right_choices(started["id"], 0)
    assert api.put(f"/api/v1/attempts/{started['id']}/answers/{qid}", json={"choices": right}).status_code == 200
    api.post(f"/api/v1/attempts/{started['id']}/next")
    shift_back(started["id"], 19 * QUESTION_TIME_S - 10)  # the last question's time has 10 s to run
    assert attempt_rules.finalize_expired(db.session, utcnow()) == 0
    shift_back(started["id"], 13)
    assert attempt_rules.finalize_expired(db.session, utcnow()) == 1
    row = attempt_row(started["id"])
    assert (row.status, row.auto_submitted, row.correct_count) == ("expired", True, 1)
    assert row.finished_at == row.deadline


def test_a_whole_paper_attempt_is_unchanged_and_has_no_next(api, citizens, open_contest):
    citizens.make(phone="13900000002")
    api.login("13900000002")
    body = api.post("/api/v1/attempts").get_json()["attempt"]
    assert len(body["questions"]) == 20 and "position" not in body and "question_seconds_left" not in body
    assert error_of(api.post(f"/api/v1/attempts/{body['id']}/next"), 422)["code"] == "invalid"


def test_saves_follow_the_clock_of_question_clock(app, sample_bank, citizens):
    """attempt_sql.SAVE and question_clock.current agree: a question takes answers from when
    it is current until its time (plus the grace) is up."""
    now = utcnow()
    contest = per_question_contest()
    citizen = citizens.make()
    attempt, _ = attempt_rules.start_attempt(db.session, citizen, contest, now)
    attempt_rules.next_question(db.session, citizen, attempt.id, now + timedelta(seconds=5))  # question 2 from 5 s
    row = attempt_row(attempt.id)
    for offset in (5, 6, 24, 25, 26, 27, 28, 45, 46, 47, 48):  # from the move on
        at = now + timedelta(seconds=offset)
        shown = question_clock.current(row, at)
        for position in range(4):
            item = row.items[position]
            served = position == shown.position or (
                position == shown.position - 1 and at - attempt_rules.GRACE <= shown.served_at)
            expected = served and position >= row.question_position
            try:
                attempt_rules.save_answer(db.session, citizen, attempt.id, item.question.qid,
                                          attempt_rules.to_display(item, item.question.answer), at)
                accepted = True
            except (attempt_rules.DeadlinePassed, attempt_rules.InvalidAnswer):
                accepted = False
            assert accepted == expected, (offset, position, shown)


# ---- the pages without JavaScript ------------------------------------------------------

def test_the_page_shows_one_question_with_the_servers_time_and_a_refresh_keeps_it(app, citizens, clock_contest):
    citizens.make(phone="13900000003")
    browser = Browser(app)
    browser.login("13900000003")
    browser.follow(browser.start())
    attempt = current_attempt("13900000003")
    assert browser.html.count('class="question"') == 1
    assert text_of(browser.html, "question-position") == "1" and text_of(browser.html, "question-count") == "20"
    assert f'name="q-{attempt.items[0].question.qid}"' in browser.html
    assert 'id="next-question"' in browser.html and 'id="submit-quiz"' not in browser.html

    shift_back(attempt.id, 12)
    browser.get("/quiz")  # a refresh: the same question, the time left as the server counts it
    assert text_of(browser.html, "question-position") == "1"
    assert text_of(browser.html, "countdown") in ("00:08", "00:07")

    qid, right = right_choices(attempt.id, 0)
    moved = browser.post(f"/quiz/{attempt.id}/answers",
                         {"position": "0", "action": "next", f"q-{qid}": right})
    browser.follow(moved)
    assert text_of(browser.html, "question-position") == "2"
    assert f'name="q-{attempt.items[1].question.qid}"' in browser.html
    saved = attempt_row(attempt.id).items[0]
    assert sorted(saved.choices) == sorted(saved.question.answer)
    assert text_of(browser.html, "countdown") in ("00:20", "00:19")

    # A repeated 下一题 from question 1 (a double tap) does not skip question 2.
    browser.follow(browser.post(f"/quiz/{attempt.id}/answers", {"position": "0", "action": "next"}))
    assert text_of(browser.html, "question-position") == "2"


def test_on_the_last_question_the_page_hands_in(app, citizens, clock_contest):
    citizens.make(phone="13900000004")
    browser = Browser(app)
    browser.login("13900000004")
    browser.follow(browser.start())
    attempt = current_attempt("13900000004")
    db.session.execute(update(Attempt).where(Attempt.id == attempt.id).values(question_position=19))
    db.session.commit()
    browser.get("/quiz")
    assert text_of(browser.html, "question-position") == "20" and 'id="submit-quiz"' in browser.html
    qid, right = right_choices(attempt.id, 19)
    done = browser.post(f"/quiz/{attempt.id}/answers", {"position": "19", "action": "submit", f"q-{qid}": right})
    assert done.headers["Location"].endswith(f"/result/{attempt.id}")
    row = attempt_row(attempt.id)
    assert (row.status, row.correct_count) == ("submitted", 1)


def test_the_contest_api_says_the_clock_per_question(client, sample_bank):
    per_question_contest()
    assert client.get("/api/v1/contest").get_json()["question_time_s"] == 20

