"""GET /api/v1/leaderboard, /api/v1/districts and /api/v1/me as a client sees them."""
from datetime import timedelta

import pytest
from conftest import finish_attempt

from quiz.clock import utcnow
from quiz.contest import attempts
from quiz.extensions import db
from quiz.models import Attempt


@pytest.fixture
def three_results(open_contest, citizens):
    """张三丰 (wujin) 100 in 90 s, 李四 (xinbei) 100 in 120 s, 王小明 (wujin) 50 in 60 s."""
    people = [citizens.make(name="张三丰", district="wujin", phone="13900000001"),
              citizens.make(name="李四", district="xinbei", phone="13900000002"),
              citizens.make(name="王小明", district="wujin", phone="13900000003")]
    for citizen, right, seconds in zip(people, (20, 20, 10), (90, 120, 60), strict=True):
        finish_attempt(citizen, open_contest, right, seconds)
    return people


def test_the_city_board_ranks_best_results_with_masked_names(client, three_results):
    response = client.get("/api/v1/leaderboard")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {"total": 3, "entries": [
        {"rank": 1, "name": "张*丰", "district": "wujin", "score": 100, "time_used_ms": 90_000},
        {"rank": 2, "name": "李*", "district": "xinbei", "score": 100, "time_used_ms": 120_000},
        {"rank": 3, "name": "王*明", "district": "wujin", "score": 50, "time_used_ms": 60_000},
    ], "frozen": False, "frozen_at": None}
    text = response.get_data(as_text=True)
    assert "张三丰" not in text and "13900000001" not in text


def test_a_district_board_and_paging(client, three_results):
    wujin = client.get("/api/v1/leaderboard?district=wujin").get_json()
    assert wujin["total"] == 2 and [e["name"] for e in wujin["entries"]] == ["张*丰", "王*明"]
    page = client.get("/api/v1/leaderboard?limit=1&offset=1").get_json()
    assert page["total"] == 3 and page["entries"] == [
        {"rank": 2, "name": "李*", "district": "xinbei", "score": 100, "time_used_ms": 120_000}]
    assert client.get("/api/v1/leaderboard?offset=3").get_json() == {"total": 3, "entries": [], "frozen": False, "frozen_at": None}
    assert client.get("/api/v1/leaderboard?district=jintan").get_json() == {"total": 0, "entries": [], "frozen": False, "frozen_at": None}


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("offset=-1", "offset"),
    ("offset=1.5", "offset"), ("offset=10000001", "offset"), ("district=shanghai", "district"),
])
def test_out_of_range_parameters_are_refused(client, open_contest, query, field):
    response = client.get(f"/api/v1/leaderboard?{query}")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid"
    assert response.get_json()["error"]["field"] == field


def test_limit_100_is_accepted(client, three_results):
    assert client.get("/api/v1/leaderboard?limit=100").status_code == 200


def test_districts_ordered_by_participation_per_10k(client, three_results, open_contest, citizens):
    finish_attempt(three_results[0], open_contest, 5, 30, now=utcnow() + timedelta(days=1))  # a worse retry tomorrow
    rows = client.get("/api/v1/districts").get_json()["districts"]
    assert [r["code"] for r in rows] == ["wujin", "xinbei", "jingkai", "jintan", "liyang", "tianning", "zhonglou"]
    wujin, xinbei = rows[0], rows[1]  # 2 of 1,390,000 residents before 1 of 800,000
    assert xinbei == {"code": "xinbei", "name": "新北区", "participants": 1, "attempts": 1, "average_score": 100,
                      "participation_per_10k": round(1 * 10000 / 800000, 2)}
    assert (wujin["participants"], wujin["attempts"], wujin["average_score"]) == (2, 3, 75)
    assert wujin["participation_per_10k"] == round(2 * 10000 / 1390000, 2)
    assert rows[2]["participants"] == rows[2]["attempts"] == 0 and rows[2]["average_score"] == 0


def test_me_needs_a_token(client, open_contest):
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_me_before_and_after_an_attempt(new_api, open_contest, citizens, three_results):
    newcomer = citizens.make(name="赵六", district="xinbei", phone="13900000009")
    api = new_api().login(newcomer.phone)
    assert api.get("/api/v1/me").get_json() == {
        "best": None, "rank": {"city": None, "district": None}, "frozen": False, "frozen_at": None,
        "attempts_today": 0, "attempts_left_today": 1}

    started = api.post("/api/v1/attempts").get_json()["attempt"]
    attempt = db.session.get(Attempt, started["id"])
    for item in attempt.items:  # all right, in a few seconds: the best of the city
        response = api.put(f"/api/v1/attempts/{attempt.id}/answers/{item.question.qid}",
                           json={"choices": attempts.to_display(item, item.question.answer)})
        assert response.status_code == 200
    result = api.post(f"/api/v1/attempts/{attempt.id}/submit").get_json()["result"]
    assert result["score"] == 100 and result["rank"] == {"city": 1, "district": 1}
    assert api.get("/api/v1/me").get_json() == {
        "best": {"score": 100, "time_used_ms": result["time_used_ms"]}, "rank": {"city": 1, "district": 1},
        "frozen": False, "frozen_at": None, "attempts_today": 1, "attempts_left_today": 0}

def test_me_ranks_the_best_result(new_api, three_results):
    me = new_api().login("13900000003").get("/api/v1/me").get_json()
    assert me == {"best": {"score": 50, "time_used_ms": 60_000}, "rank": {"city": 3, "district": 2},
                  "frozen": False, "frozen_at": None, "attempts_today": 1, "attempts_left_today": 0}
