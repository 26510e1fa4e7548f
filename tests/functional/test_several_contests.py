"""Several contests at once (issue 17): each under its slug (/c/<slug>/…, /api/v1/contests/<slug>/…,
displays ?contest=SLUG), with its own limits and boards; the bare paths mean the featured contest,
else the open one that started last; the home page lists the others and an archive of ended ones."""
from datetime import timedelta

from conftest import SAMPLE_CONTEST, finish_attempt
from functional.test_citizen_pages import Browser
from sqlalchemy import update

from quiz.clock import utcnow
from quiz.contest.definition import import_contest
from quiz.extensions import db
from quiz.models import Contest

SECOND = "cz-2021-youth"


def second_contest(slug=SECOND, title="常州市青少年科学素质网络大赛", extra=b"", shift_to_now=True):
    raw = SAMPLE_CONTEST.read_bytes().replace(b"contest: cz-2021-3rd", f"contest: {slug}".encode())
    raw = raw.replace("title: 常州市第三届公民科学素质网络大赛".encode(), f"title: {title}".encode())
    return import_contest(db.session, raw + extra, shift_to_now=shift_to_now)[0]


def move(contest, **times):
    db.session.execute(update(Contest).where(Contest.id == contest.id).values(**times))
    db.session.commit()


def started(api, prefix="/api/v1"):
    response = api.post(f"{prefix}/attempts")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["attempt"]


def test_each_contest_has_its_own_api_limits_and_board(app, new_api, open_contest, citizens):
    youth = second_contest()
    move(youth, starts_at=open_contest.starts_at + timedelta(seconds=1))  # started last: the bare paths' contest
    citizens.make(phone="13800000001", name="王五")
    api = new_api().login("13800000001")

    assert api.get("/api/v1/contest").get_json()["slug"] == SECOND
    assert api.get("/api/v1/contests/cz-2021-3rd").get_json()["slug"] == "cz-2021-3rd"
    assert api.get(f"/api/v1/contests/{SECOND}/contest").get_json()["title"] == "常州市青少年科学素质网络大赛"

    first = started(api, "/api/v1/contests/cz-2021-3rd")
    assert api.post(f"/api/v1/attempts/{first['id']}/submit").status_code == 200
    # One attempt a day in each: the first contest's limit is spent, the second's is not.
    refused = api.post("/api/v1/contests/cz-2021-3rd/attempts")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "daily_limit"
    second = started(api)  # the bare path: the youth contest
    assert second["id"] != first["id"]
    assert api.get("/api/v1/contests/cz-2021-3rd/me").get_json()["attempts_left_today"] == 0

    board = api.get("/api/v1/contests/cz-2021-3rd/leaderboard").get_json()
    assert [e["name"] for e in board["entries"]] == ["王*"]
    assert api.get(f"/api/v1/contests/{SECOND}/leaderboard").get_json()["entries"] == []  # not handed in yet
    api.post(f"/api/v1/attempts/{second['id']}/submit")
    assert [e["name"] for e in api.get("/api/v1/leaderboard?limit=50").get_json()["entries"]] == ["王*"]  # another cached page


def test_unknown_contest_slugs_are_404(client, open_contest):
    assert client.get("/c/no-such-contest/").status_code == 404
    assert client.get("/api/v1/contests/no-such-contest").status_code == 404
    assert client.get("/api/v1/contests/no-such-contest/leaderboard").status_code == 404
    assert client.get("/display/data?contest=no-such-contest").status_code == 404


def test_featured_contest_is_what_the_bare_paths_mean(client, open_contest):
    second_contest(extra=b"\nfeatured: true\n")
    move(open_contest, starts_at=open_contest.starts_at + timedelta(seconds=1))  # started last, but not featured
    assert client.get("/api/v1/contest").get_json()["slug"] == SECOND
    assert "常州市青少年科学素质网络大赛" in client.get("/display/data").get_json()["title"]


def test_pages_under_a_slug_stay_in_that_contest(app, open_contest, citizens):
    second_contest()
    citizens.make(phone="13800000002")
    phone = Browser(app)
    page = phone.get(f"/c/{SECOND}/").get_data(as_text=True)
    assert "常州市青少年科学素质网络大赛" in page
    assert f'href="/c/{SECOND}/login' in page  # links built on the page keep the slug
    login = phone.post(f"/c/{SECOND}/login", {"phone": "13800000002", "password": "password123"}, page=f"/c/{SECOND}/login")
    assert login.status_code == 302 and login.headers["Location"].startswith(f"/c/{SECOND}/")
    home = phone.get(f"/c/{SECOND}/").get_data(as_text=True)
    assert f'action="/c/{SECOND}/quiz/start"' in home
    assert phone.post(f"/c/{SECOND}/quiz/start").status_code == 302
    quiz = phone.get(f"/c/{SECOND}/quiz")
    assert quiz.status_code == 200 and 'id="quiz-form"' in quiz.get_data(as_text=True)
    # The other contest knows nothing of that attempt: its home page offers a start of its own.
    assert phone.get("/c/cz-2021-3rd/quiz").status_code == 302
    assert 'action="/c/cz-2021-3rd/quiz/start"' in phone.get("/c/cz-2021-3rd/").get_data(as_text=True)


def test_displays_take_the_contest(client, open_contest, citizens):
    second_contest()
    finish_attempt(citizens.make(phone="13800000003", name="赵六"), open_contest, right=10, seconds=60)
    youth = client.get(f"/display/data?contest={SECOND}").get_json()
    assert youth["title"] == "常州市青少年科学素质网络大赛" and youth["top"] == []
    adult = client.get("/display/data?contest=cz-2021-3rd").get_json()
    assert [e["name"] for e in adult["top"]] == ["赵*"]
    page = client.get(f"/display?contest={SECOND}").get_data(as_text=True)
    assert f"contest={SECOND}" in page  # the page's data and event streams ask for the same contest


def test_home_lists_open_upcoming_and_ended_contests_with_the_final_board(app, client, open_contest, citizens):
    now = utcnow()
    second_contest()
    later = second_contest("cz-2022-4th", "常州市第四届公民科学素质网络大赛")
    move(later, starts_at=now + timedelta(days=30), ends_at=now + timedelta(days=44))
    ended = second_contest("cz-2020-2nd", "常州市第二届公民科学素质网络大赛")
    finish_attempt(citizens.make(phone="13800000005", name="钱七"), ended, right=12, seconds=90)
    move(ended, starts_at=now - timedelta(days=400), ends_at=now - timedelta(days=380))
    app_cache_clear(client)

    home = client.get("/").get_data(as_text=True)
    assert 'id="contests-open"' in home and 'id="contests-upcoming"' in home and 'id="contests-ended"' in home
    assert "常州市第四届公民科学素质网络大赛" in home and "常州市第二届公民科学素质网络大赛" in home
    assert 'href="/c/cz-2020-2nd/' in home

    archive = client.get("/c/cz-2020-2nd/").get_data(as_text=True)
    assert "本届竞赛已经结束" in archive and 'id="final-board"' in archive
    assert "钱*" in archive and 'id="final-districts"' in archive
    phone = Browser(app)  # a citizen of that contest, logged in there: nothing left to start
    phone.post("/c/cz-2020-2nd/login", {"phone": "13800000005", "password": "password123"}, page="/c/cz-2020-2nd/login")
    ended_home = phone.get("/c/cz-2020-2nd/").get_data(as_text=True)
    assert 'id="start-blocked"' in ended_home and 'id="start-form"' not in ended_home


def app_cache_clear(client):
    client.application.extensions.pop("quiz_contest_cache", None)
