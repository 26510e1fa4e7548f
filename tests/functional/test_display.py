"""The big-screen displays: server-rendered boards, the JSON fallback and the live stream."""
import json
import re

import pytest
from conftest import finish_attempt


@pytest.fixture
def screen(app):
    return app.test_client()


@pytest.fixture
def results(open_contest, citizens):
    finish_attempt(citizens.make(name="张三丰", district="wujin"), open_contest, 20, 90)
    finish_attempt(citizens.make(name="李四", district="xinbei"), open_contest, 18, 125)
    finish_attempt(citizens.make(name="王小明", district="wujin"), open_contest, 10, 61)
    return open_contest


def rows(html: str, tbody_id: str) -> list[list[str]]:
    body = re.search(rf'<tbody id="{tbody_id}">(.*?)</tbody>', html, re.S).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def by_id(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}"[^>]*>(.*?)<', html, re.S).group(1)


def test_the_city_display_renders_without_javascript(screen, results):
    response = screen.get("/display")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert rows(html, "top-table") == [["1", "张*丰", "武进区", "100", "1:30"], ["2", "李*", "新北区", "90", "2:05"],
                                       ["3", "王*明", "武进区", "50", "1:01"]]
    assert html.count('class="entry') == 3
    assert [r[0] for r in rows(html, "district-table")] == ["武进区", "新北区", "常州经开区", "金坛区", "溧阳市", "天宁区", "钟楼区"]
    assert rows(html, "district-table")[0] == ["武进区", "2", "2", "75.00", "0.01"]
    assert by_id(html, "participants") == "3" and by_id(html, "attempts") == "3"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by_id(html, "updated-at"))
    assert re.search(r'<p id="board-notice"[^>]*hidden', html)
    assert "张三丰" not in html


def test_the_page_obeys_a_strict_content_security_policy(screen, results):
    response = screen.get("/display")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    html = response.get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\ssrc=)", html) == []
    assert "<style" not in html and " style=" not in html
    assert "http://" not in html and "https://" not in html  # no CDN
    with screen.get("/static/display.js") as script:
        assert not re.search(r"=>|\blet\s|\bconst\s|`|\bclass\s", script.get_data(as_text=True))  # plain ES5
    with screen.get("/static/display.css") as css:
        assert css.status_code == 200


def test_a_district_display_shows_its_district(screen, results):
    html = screen.get("/display/wujin").get_data(as_text=True)
    assert [r[1] for r in rows(html, "top-table")] == ["张*丰", "王*明"]
    assert by_id(html, "participants") == "2" and by_id(html, "attempts") == "2"
    assert 'class="district current"><td>武进区' in html
    assert "武进区" in re.search(r"<title>(.*?)</title>", html).group(1)


def test_an_unknown_district_display_is_a_404_page(screen, results):
    response = screen.get("/display/shanghai")
    assert response.status_code == 404
    assert "text/html" in response.content_type


def test_the_polling_endpoint_returns_the_same_snapshot(screen, results):
    data = screen.get("/display/data?district=xinbei").get_json()
    assert data["available"] is True and data["notice"] is None
    assert data["district"] == {"code": "xinbei", "name": "新北区"}
    assert data["top"] == [{"rank": 1, "name": "李*", "district": "xinbei", "district_name": "新北区",
                            "score": 90, "time_used_ms": 125_000, "time_used": "2:05"}]
    assert (data["participants"], data["attempts"]) == (1, 1)
    assert [row["code"] for row in data["districts"]][:2] == ["wujin", "xinbei"]  # 2 of 1,390,000 before 1 of 800,000
    assert screen.get("/display/data?district=nowhere").status_code == 404


def test_without_a_contest_the_display_says_so(screen, app):
    response = screen.get("/display")
    assert response.status_code == 200
    assert "目前没有竞赛" in by_id(response.get_data(as_text=True), "board-notice")


# ---- the live stream ----------------------------------------------------------------

def events(chunks):
    """Parse an SSE byte stream lazily into ("snapshot", dict) and ("comment", text) items."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            if block.startswith(":"):
                yield "comment", block[1:].strip()
            elif "event: snapshot" in block:
                yield "snapshot", json.loads(block.split("data: ", 1)[1])


def test_the_stream_sends_a_snapshot_after_a_result(app, screen, results, citizens):
    app.config.update(DISPLAY_HEARTBEAT_S=0.2, DISPLAY_STREAM_S=30)
    response = screen.get("/display/events", buffered=False)
    assert response.mimetype == "text/event-stream"
    stream = events(response.response)
    kind, first = next(stream)
    assert kind == "snapshot" and first["participants"] == 3

    finish_attempt(citizens.make(name="赵六", district="jintan"), results, 20, 30)
    body = next(body for kind, body in stream if kind == "snapshot")
    assert body["participants"] == 4
    assert body["top"][0] == {"rank": 1, "name": "赵*", "district": "jintan", "district_name": "金坛区",
                              "score": 100, "time_used_ms": 30_000, "time_used": "0:30"}
    response.close()


def test_the_stream_beats_and_then_ends(app, screen, results):
    app.config.update(DISPLAY_HEARTBEAT_S=0.1, DISPLAY_STREAM_S=0.5)
    response = screen.get("/display/events?district=wujin", buffered=False)
    received = list(events(response.response))  # ends by itself
    assert received[0][0] == "snapshot" and received[0][1]["district"]["code"] == "wujin"
    assert ("comment", "heartbeat") in received
    assert screen.get("/display/events?district=nowhere").status_code == 404
