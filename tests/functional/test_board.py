"""排行榜 for citizens (/board) and the 扫码参赛 invitation: the displays' QR code and the A4 poster."""
import re
from datetime import timedelta

import pytest
from flask import g

from quiz.clock import utcnow
from quiz.extensions import db
from quiz.qr import QUIET_ZONE, qr_modules
from tests.conftest import finish_attempt

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def login(client, phone):
    g.pop("csrf_token", None)  # the test app keeps one flask.g: take this client's token
    token = CSRF_FIELD.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"phone": phone, "password": "password123", "csrf_token": token})
    assert response.status_code == 302


def board_rows(html: str) -> list[list[str]]:
    body = re.search(r'<table class="board-table" id="board-table">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(2)) if match else ""


def drawn_modules(svg: str) -> list[list[bool]]:
    """The dark modules an inline segno SVG draws (its path of horizontal runs), quiet zone removed."""
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1)) // int(re.search(r"scale\((\d+)\)", svg).group(1))
    grid = [[False] * size for _ in range(size)]
    path = re.search(r'<path stroke="#000" d="([^"]+)"', svg).group(1)
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            for column in range(int(x), int(x + float(a))):
                grid[int(y)][column] = True
            x += float(a)
    inner = size - 2 * QUIET_ZONE
    return [row[QUIET_ZONE:QUIET_ZONE + inner] for row in grid[QUIET_ZONE:QUIET_ZONE + inner]]


def qr_on(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}"[^>]*>(<svg.*?</svg>)', html, re.S).group(1)


@pytest.fixture
def many(open_contest, citizens):
    """103 results: 张三丰 (wujin) first with 100, then 102 others of 50 (wujin and xinbei alternately)."""
    finish_attempt(citizens.make(name="张三丰", district="wujin"), open_contest, 20, 90)
    for n in range(102):
        finish_attempt(citizens.make(district="wujin" if n % 2 else "xinbei"), open_contest, 10, 100 + n)
    return open_contest


def test_the_board_shows_the_city_top_100_and_is_linked_from_home(app, many):
    client = app.test_client()
    assert 'id="board-link" href="/board"' in client.get("/").get_data(as_text=True)
    response = client.get("/board")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = board_rows(html)
    assert len(rows) == 100
    assert rows[0] == ["1", "张*丰", "武进区", "100", "1:30"]
    assert [int(r[0]) for r in rows] == list(range(1, 101))
    assert rows[1][3] == "50" and rows[1][4] == "1:40"
    assert "共 103 人上榜" in html and "张三丰" not in html
    assert 'href="/login?next=/board"' in html  # a visitor is asked to log in for the own rank


def test_the_district_switch_shows_one_district_and_keeps_other_arguments(app, many):
    client = app.test_client()
    html = client.get("/board?district=xinbei").get_data(as_text=True)
    rows = board_rows(html)
    assert len(rows) == 51 and {r[2] for r in rows} == {"新北区"} and rows[0][0] == "1"
    assert "新北区" in text_of(html, "board-scope")
    links = dict(re.findall(r'<a href="([^"]+)" class="switch-link[^"]*"[^>]*\s*data-district="([^"]*)"', html))
    assert {v: k for k, v in links.items()}[""] == "/board"
    assert {v: k for k, v in links.items()}["wujin"] == "/board?district=wujin"
    assert 'class="switch-link current" aria-current="page"' in html
    kept = client.get("/board?district=xinbei&group=x").get_data(as_text=True)
    assert re.search(r'href="/board\?(district=wujin&amp;group=x|group=x&amp;district=wujin)"', kept)


def test_a_citizen_sees_their_own_rank_or_that_they_have_no_result(app, many, citizens):
    client = app.test_client()
    login(client, "13900000050")  # the 50th citizen made: one of the 50-point results
    html = client.get("/board").get_data(as_text=True)
    city = int(re.search(r'id="my-rank-city">全市第 <strong>(\d+)</strong>', html).group(1))
    district = int(re.search(r'id="my-rank-district">\S+第 <strong>(\d+)</strong>', html).group(1))
    assert city == 50 and 1 <= district < city
    assert "50 分" in text_of(html, "my-best")

    newcomer = citizens.make(name="赵六", district="jintan")
    other = app.test_client()
    login(other, newcomer.phone)
    assert text_of(other.get("/board").get_data(as_text=True), "no-result") == "您还没有成绩。"


def test_an_unknown_district_board_is_a_404_naming_the_field(app, many):
    response = app.test_client().get("/board?district=shanghai")
    assert response.status_code == 404
    error = text_of(response.get_data(as_text=True), "board-error")
    assert "district" in error and "shanghai" in error


def test_a_frozen_board_shows_the_standings_at_the_freeze(app, open_contest, citizens):
    app.config["CONTEST_CACHE_S"] = 0
    finish_attempt(citizens.make(name="张三丰"), open_contest, 10, 60)
    open_contest.freeze_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    finish_attempt(citizens.make(name="李四"), open_contest, 20, 30, now=utcnow() - timedelta(seconds=30))
    html = app.test_client().get("/board").get_data(as_text=True)
    assert [r[1] for r in board_rows(html)] == ["张*丰"]
    assert "已封榜" in text_of(html, "frozen-notice")


def test_the_display_and_the_poster_carry_the_qr_code_of_public_base_url(app_with, open_contest):
    client = app_with(PUBLIC_BASE_URL="https://quiz.example.org").test_client()
    expected = [list(row) for row in qr_modules("https://quiz.example.org/")]
    display = client.get("/display").get_data(as_text=True)
    assert drawn_modules(qr_on(display, "invite-qr")) == expected
    assert "扫码参赛" in display and text_of(display, "invite-address") == "quiz.example.org"

    poster = client.get("/display/poster?district=wujin")
    assert poster.status_code == 200
    html = poster.get_data(as_text=True)
    assert drawn_modules(qr_on(html, "poster-qr")) == expected
    assert text_of(html, "poster-scope") == "武进区" and text_of(html, "poster-title") == open_contest.title
    assert "扫码参赛" in html
    with client.get("/static/poster.css") as css:
        assert "size: A4" in css.get_data(as_text=True)
    city = client.get("/display/poster").get_data(as_text=True)
    assert text_of(city, "poster-scope") == "全市" and drawn_modules(qr_on(city, "poster-qr")) == expected


def test_a_display_of_another_contest_invites_to_that_contest(app_with, open_contest):
    from functional.test_several_contests import SECOND, second_contest

    second_contest()
    client = app_with(PUBLIC_BASE_URL="https://quiz.example.org").test_client()
    display = client.get(f"/display?contest={SECOND}").get_data(as_text=True)
    assert drawn_modules(qr_on(display, "invite-qr")) == [list(row) for row in qr_modules(
        f"https://quiz.example.org/c/{SECOND}/")]


def test_without_public_base_url_the_qr_code_is_of_the_request_host(app, open_contest):
    html = app.test_client().get("/display/poster", base_url="http://hall.example.cn").get_data(as_text=True)
    assert drawn_modules(qr_on(html, "poster-qr")) == [list(row) for row in qr_modules("http://hall.example.cn/")]


def test_an_unknown_district_poster_is_a_404_page(app, open_contest):
    response = app.test_client().get("/display/poster?district=shanghai")
    assert response.status_code == 404 and "text/html" in response.content_type
    html = response.get_data(as_text=True)
    assert "shanghai" in text_of(html, "poster-error") and "district" in text_of(html, "poster-error")
    assert 'href="/display/poster?district=wujin"' in html and "poster-qr" not in html


def test_the_displays_call_the_district_column_qu_xian(app, open_contest):
    client = app.test_client()
    for path in ("/display", "/display/wujin", "/display/units"):
        html = client.get(path).get_data(as_text=True)
        headers = re.findall(r"<th[^>]*>(.*?)</th>", html)
        assert "区县" in headers and "区" not in headers and "所属区" not in headers, path
        assert 'content="width=device-width, initial-scale=1"' in html, path


def test_without_redis_the_board_says_so_and_keeps_the_results_safe(app_with, many):
    client = app_with(REDIS_URL="redis://127.0.0.1:9/0").test_client()  # nothing listens on port 9
    response = client.get("/board")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "排行榜暂时不可用" in text_of(html, "board-notice") and 'id="board-table"' not in html
