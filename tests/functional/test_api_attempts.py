"""The v1 JSON API for citizens: each endpoint's contract and its error codes."""
import threading
from datetime import timedelta

import pytest
from conftest import ApiClient
from sqlalchemy import func, select, update

from quiz import leaderboard
from quiz.clock import utcnow
from quiz.contest import attempts as attempt_rules
from quiz.extensions import db
from quiz.models import ATTEMPT_ACTIVE, Attempt, Contest


def error_of(response, status):
    assert response.status_code == status, response.get_json()
    return response.get_json()["error"]


def started(api) -> dict:
    response = api.post("/api/v1/attempts")
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["attempt"]


def answer_key(attempt_id) -> dict:
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt_id)
    return {item.question.qid: attempt_rules.to_display(item, item.question.answer) for item in attempt.items}


def end_time_of(attempt_id, seconds_ago=60):
    """Move an attempt's deadline into the past instead of waiting for it."""
    attempt = db.session.get(Attempt, attempt_id)
    deadline = utcnow() - timedelta(seconds=seconds_ago)
    db.session.execute(update(Attempt).where(Attempt.id == attempt_id).values(
        deadline=deadline, started_at=deadline - timedelta(seconds=attempt.contest.time_limit_s)))
    db.session.commit()


# ---- accounts ------------------------------------------------------------------------

def test_register_returns_the_masked_name_and_never_the_phone(new_api, open_contest):
    api = new_api()
    response = api.post("/api/v1/auth/register", json={
        "phone": "13800000001", "name": "张三丰", "district": "wujin", "password": "password123", "group": "老年人"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"]["name_masked"] == "张*丰" and body["user"]["district"] == "wujin"
    assert "13800000001" not in response.get_data(as_text=True)

    again = api.post("/api/v1/auth/register", json={
        "phone": "13800000001", "name": "李四", "district": "wujin", "password": "password123"})
    assert error_of(again, 409)["code"] == "phone_taken"


@pytest.mark.parametrize("field, value", [
    ("phone", "1380000000"), ("phone", "23800000001"), ("name", ""), ("name", "名" * 21),
    ("district", "shanghai"), ("group", "学生"), ("password", "short"),
])
def test_register_names_the_invalid_field(new_api, open_contest, field, value):
    body = {"phone": "13800000002", "name": "王五", "district": "xinbei", "password": "password123", field: value}
    error = error_of(new_api().post("/api/v1/auth/register", json=body), 422)
    assert error["code"] == "invalid" and error["field"] == field


def test_a_token_needs_the_right_password_and_says_no_more(new_api, open_contest, citizens):
    citizens.make(phone="13800000003")
    api = new_api()
    wrong = error_of(api.post("/api/v1/auth/token", json={"phone": "13800000003", "password": "nope-nope"}), 401)
    unknown = error_of(api.post("/api/v1/auth/token", json={"phone": "13800000999", "password": "nope-nope"}), 401)
    assert wrong == unknown and wrong["code"] == "unauthorized"
    ok = api.post("/api/v1/auth/token", json={"phone": "13800000003", "password": "password123"}).get_json()
    assert ok["token"] and ok["expires_at"].endswith("+08:00")


def test_every_citizen_endpoint_wants_a_token(new_api, open_contest):
    api = new_api()
    for method, path in (("post", "/api/v1/attempts"), ("get", "/api/v1/attempts/1"), ("post", "/api/v1/attempts/1/submit"),
                         ("put", "/api/v1/attempts/1/answers/x"), ("get", "/api/v1/me")):
        response = getattr(api, method)(path, json={"choices": ["A"]})
        assert error_of(response, 401)["code"] == "unauthorized", path
        assert response.headers["WWW-Authenticate"] == "Bearer"
    api.token = "made-up"
    assert error_of(api.get("/api/v1/me"), 401)["code"] == "unauthorized"


# ---- the contest and an attempt --------------------------------------------------------

def test_the_contest_describes_its_rules_in_shanghai_time(new_api, contest):
    body = new_api().get("/api/v1/contest").get_json()
    assert body["slug"] == "cz-2021-3rd"
    assert body["starts_at"] == "2021-05-22T08:00:00+08:00" and body["ends_at"] == "2021-06-05T22:00:00+08:00"
    assert body["time_limit_s"] == 600 and body["attempts_per_day"] == 1 and body["max_attempts"] == 7
    assert {d["code"] for d in body["districts"]} >= {"wujin", "liyang"}
    assert all("population" not in d for d in body["districts"])


def test_start_answer_submit_and_read_the_result(new_api, open_contest, citizens):
    citizens.make(phone="13800000004", name="李四")
    api = new_api().login("13800000004")
    response = api.post("/api/v1/attempts")
    assert response.status_code == 201
    attempt = response.get_json()["attempt"]
    assert attempt["status"] == ATTEMPT_ACTIVE and attempt["practice"] is False
    assert 590 <= attempt["seconds_left"] <= 600 and attempt["deadline"].endswith("+08:00")
    assert len(attempt["questions"]) == 20
    for question in attempt["questions"]:
        assert set(question) == {"id", "type", "stem", "options", "choices"}
        if question["type"] == "judge":
            assert question["options"] == [{"key": "true", "text": "正确"}, {"key": "false", "text": "错误"}]
        else:
            assert [o["key"] for o in question["options"]] == list("ABCDEFGH"[: len(question["options"])])

    resumed = api.post("/api/v1/attempts")
    assert resumed.status_code == 200 and resumed.get_json()["attempt"]["id"] == attempt["id"]

    key = answer_key(attempt["id"])
    for qid, choices in key.items():
        response = api.put(f"/api/v1/attempts/{attempt['id']}/answers/{qid}", json={"choices": choices})
        assert response.status_code == 200 and response.get_json() == {"saved": True}
    shown = api.get(f"/api/v1/attempts/{attempt['id']}").get_json()["attempt"]
    assert {q["id"]: q["choices"] for q in shown["questions"]} == key
    restarted = api.post("/api/v1/attempts")  # a start again resumes it as it is, answers and all
    assert restarted.status_code == 200
    assert restarted.get_json()["attempt"]["questions"] == shown["questions"]
    assert restarted.get_json()["attempt"]["deadline"] == shown["deadline"]

    result = api.post(f"/api/v1/attempts/{attempt['id']}/submit").get_json()["result"]
    assert result["score"] == result["max_score"] == 100 and result["correct_count"] == 20
    assert result["rank"] == {"city": 1, "district": 1}
    assert [r["id"] for r in result["review"]] == [q["id"] for q in attempt["questions"]]
    assert all(r["correct"] and r["explanation"] for r in result["review"])

    again = api.post(f"/api/v1/attempts/{attempt['id']}/submit").get_json()["result"]
    assert again == result
    finished = api.get(f"/api/v1/attempts/{attempt['id']}").get_json()["attempt"]
    assert finished["status"] == "submitted" and "questions" not in finished and finished["result"]["score"] == 100

    me = api.get("/api/v1/me").get_json()
    assert me["best"]["score"] == 100 and me["attempts_today"] == 1 and me["attempts_left_today"] == 0
    board = api.get("/api/v1/leaderboard").get_json()
    assert board["entries"][0]["name"] == "李*" and "13800000004" not in str(board)


def test_answers_are_checked(new_api, open_contest, citizens):
    citizens.make(phone="13800000005")
    api = new_api().login("13800000005")
    attempt = started(api)
    single = next(q for q in attempt["questions"] if q["type"] == "single")
    path = f"/api/v1/attempts/{attempt['id']}/answers/{single['id']}"
    for body in ({"choices": ["A", "B"]}, {"choices": ["Q"]}, {"choices": "A"}, {}):
        error = error_of(api.put(path, json=body), 422)
        assert error["code"] == "invalid" and error["field"] == "choices", body
    error = error_of(api.put(f"/api/v1/attempts/{attempt['id']}/answers/not-in-paper", json={"choices": ["A"]}), 422)
    assert error["field"] == "question_id"
    assert error_of(api.put(path, data="A", content_type="text/plain"), 422)["code"] == "invalid"


def test_another_citizens_attempt_is_not_found(new_api, open_contest, citizens):
    citizens.make(phone="13800000006")
    citizens.make(phone="13800000007")
    owner = new_api().login("13800000006")
    stranger = new_api().login("13800000007")
    attempt = started(owner)
    qid = attempt["questions"][0]["id"]
    for response in (stranger.get(f"/api/v1/attempts/{attempt['id']}"),
                     stranger.put(f"/api/v1/attempts/{attempt['id']}/answers/{qid}", json={"choices": ["A"]}),
                     stranger.post(f"/api/v1/attempts/{attempt['id']}/submit"),
                     stranger.get("/api/v1/attempts/999999"), stranger.get("/api/v1/attempts/abc")):
        assert error_of(response, 404)["code"] == "not_found"
    assert owner.get(f"/api/v1/attempts/{attempt['id']}").get_json()["attempt"]["status"] == ATTEMPT_ACTIVE


def test_a_closed_contest_refuses_a_start(new_api, contest, citizens):
    citizens.make(phone="13800000008")
    error = error_of(new_api().login("13800000008").post("/api/v1/attempts"), 403)
    assert error["code"] == "contest_closed"


def test_the_daily_limit_and_the_total_limit(new_api, open_contest, citizens):
    citizens.make(phone="13800000009")
    api = new_api().login("13800000009")
    api.post(f"/api/v1/attempts/{started(api)['id']}/submit")
    assert error_of(api.post("/api/v1/attempts"), 429)["code"] == "daily_limit"

    db.session.execute(update(Contest).where(Contest.id == open_contest.id).values(attempts_per_day=5, max_attempts=2))
    db.session.commit()
    api.post(f"/api/v1/attempts/{started(api)['id']}/submit")
    assert error_of(api.post("/api/v1/attempts"), 429)["code"] == "attempts_exhausted"


def test_after_the_deadline_saves_are_refused_and_the_attempt_is_finished(new_api, open_contest, citizens):
    citizens.make(phone="13800000010")
    api = new_api().login("13800000010")
    attempt = started(api)
    key = answer_key(attempt["id"])
    first = attempt["questions"][0]["id"]
    api.put(f"/api/v1/attempts/{attempt['id']}/answers/{first}", json={"choices": key[first]})
    end_time_of(attempt["id"])

    second = attempt["questions"][1]["id"]
    late = api.put(f"/api/v1/attempts/{attempt['id']}/answers/{second}", json={"choices": key[second]})
    assert error_of(late, 409)["code"] == "deadline_passed"
    shown = api.get(f"/api/v1/attempts/{attempt['id']}").get_json()["attempt"]
    assert shown["status"] == "expired" and shown["seconds_left"] == 0
    assert shown["result"]["correct_count"] == 1 and shown["result"]["time_used_ms"] == 600_000


def test_concurrent_submits_give_one_result_and_one_board_entry(app, new_api, open_contest, citizens):
    citizens.make(phone="13800000011")
    api = new_api().login("13800000011")
    attempt = started(api)
    key = answer_key(attempt["id"])
    for qid, choices in key.items():
        api.put(f"/api/v1/attempts/{attempt['id']}/answers/{qid}", json={"choices": choices})

    threads_count = 4
    barrier = threading.Barrier(threads_count)
    results, failures = [], []

    def hand_in():
        client = ApiClient(app.test_client())  # a client of its own; each request gets its own app context
        client.token = api.token
        barrier.wait()
        try:
            response = client.post(f"/api/v1/attempts/{attempt['id']}/submit")
            results.append((response.status_code, response.get_json()))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=hand_in) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures
    assert [status for status, _ in results] == [200] * threads_count
    assert len({(body["result"]["score"], body["result"]["time_used_ms"]) for _, body in results}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.status != ATTEMPT_ACTIVE)) == 1
    assert leaderboard.totals(open_contest)["attempts"] == 1
    assert leaderboard.top(open_contest)["total"] == 1
