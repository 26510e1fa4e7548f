"""Issue 14, items 4 and 7, and the paged citizen page.

Organizer accounts and accounts marked staff or test (CLI `citizens mark-staff`, the
console) take attempts like anyone but never reach a public board, a district aggregate,
a display or an export of standings; the console keeps and labels their attempts. The
phone filter of /admin/results is for city organizers only, audited and limited.
"""
import re
from datetime import timedelta

import pytest
from admin_console import csrf_token, finished_attempt, make_organizer, page_token, sign_in
from conftest import DURING, finish_attempt
from sqlalchemy import select

from quiz.accounts import mask_name
from quiz.db.session import dispose_engines
from quiz.extensions import db, limiter
from quiz.models import AuditEntry, Question, User


def board(client) -> list[str]:
    body = client.get("/api/v1/leaderboard?limit=100").get_json()
    assert body["total"] == len(body["entries"])
    return [entry["name"] for entry in body["entries"]]


def district(client, code: str) -> dict:
    return next(row for row in client.get("/api/v1/districts").get_json()["districts"] if row["code"] == code)


def display(client) -> dict:
    data = client.get("/display/data").get_json()
    assert data["available"]
    return data


def shown_everywhere(client, name: str) -> bool:
    """Whether a masked name is on the city board, the display's top list (both or neither)."""
    on_board = mask_name(name) in board(client)
    on_display = mask_name(name) in [entry["name"] for entry in display(client)["top"]]
    assert on_board == on_display
    return on_board


@pytest.fixture
def two_citizens(open_contest, citizens):
    kept = citizens.make(district="wujin", name="张三丰")
    tester = citizens.make(district="wujin", name="李测试")
    finish_attempt(kept, open_contest, right=5, seconds=60)
    finish_attempt(tester, open_contest, right=20, seconds=60)
    return kept, tester


# ---- item 4: staff and test accounts ------------------------------------------

def test_mark_staff_takes_a_citizen_off_every_public_board_and_unmark_brings_it_back(app, client, runner, two_citizens):
    kept, tester = two_citizens
    assert shown_everywhere(client, tester.name) and shown_everywhere(client, kept.name)
    assert district(client, "wujin")["participants"] == 2

    result = runner.invoke(args=["citizens", "mark-staff", "+86 " + tester.phone])  # normalized as at login
    assert result.exit_code == 0, result.output
    assert not shown_everywhere(client, tester.name) and shown_everywhere(client, kept.name)
    wujin = district(client, "wujin")
    assert wujin["participants"] == 1 and wujin["attempts"] == 1
    assert display(client)["participants"] == 1 and display(client)["attempts"] == 1
    assert db.session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "citizen.staff")) \
        == f"{tester.phone} staff=yes"

    result = runner.invoke(args=["citizens", "unmark-staff", tester.phone])
    assert result.exit_code == 0, result.output
    assert shown_everywhere(client, tester.name)
    assert district(client, "wujin")["participants"] == 2


def test_mark_staff_of_an_unknown_phone_changes_nothing(app, runner, two_citizens):
    kept, tester = two_citizens
    result = runner.invoke(args=["citizens", "mark-staff", tester.phone, "13999999999", "139０0000001"])
    assert result.exit_code != 0 and "13999999999" in result.output and "139０0000001" in result.output
    db.session.expire_all()
    assert db.session.get(User, tester.id).staff is False


def test_a_marked_citizens_new_attempt_and_an_organizers_attempt_never_reach_the_boards(
        app, client, runner, open_contest, citizens):
    citizen = citizens.make(district="wujin", name="王普通")
    marked = citizens.make(district="wujin", name="赵内部")
    organizer = make_organizer("district", "wujin", name="钱组织")
    assert runner.invoke(args=["citizens", "mark-staff", marked.phone]).exit_code == 0
    finish_attempt(citizen, open_contest, right=3, seconds=60)
    graded = finish_attempt(marked, open_contest, right=20, seconds=30)  # the submit's own record
    assert graded.score > 0
    finish_attempt(organizer, open_contest, right=20, seconds=20)
    assert board(client) == [mask_name(citizen.name)]
    assert [e["name"] for e in display(client)["top"]] == [mask_name(citizen.name)]
    assert district(client, "wujin")["participants"] == 1
    assert runner.invoke(args=["leaderboard", "rebuild"]).exit_code == 0
    assert board(client) == [mask_name(citizen.name)]
    assert district(client, "wujin")["attempts"] == 1


def test_exports_of_standings_leave_staff_and_organizers_out(app, runner, tmp_path, open_contest, two_citizens):
    kept, tester = two_citizens
    organizer = make_organizer("city", name="孙组织")
    finish_attempt(organizer, open_contest, right=20, seconds=20)
    assert runner.invoke(args=["citizens", "mark-staff", tester.phone]).exit_code == 0
    results, districts = tmp_path / "results.csv", tmp_path / "districts.csv"
    assert runner.invoke(args=["export", "results", "--out", str(results)]).exit_code == 0
    assert runner.invoke(args=["export", "districts", "--out", str(districts)]).exit_code == 0
    text = results.read_text(encoding="utf-8-sig")
    assert kept.phone in text and tester.phone not in text and organizer.phone not in text
    wujin = next(line for line in districts.read_text(encoding="utf-8-sig").splitlines() if line.startswith("wujin,"))
    assert wujin.split(",")[3:6:2] == ["1", "1"]  # participants, attempts


def test_console_keeps_and_labels_internal_attempts_and_marks_with_an_audit(app, client, open_contest, two_citizens):
    kept, tester = two_citizens
    city = make_organizer("city")
    finish_attempt(city, open_contest, right=1, seconds=20)
    sign_in(client, city)
    page = client.get(f"/admin/results/citizens/{tester.id}").get_data(as_text=True)
    response = client.post(f"/admin/results/citizens/{tester.id}/staff?contest={open_contest.id}",
                           data={"csrf_token": page_token(page), "staff": "1"})
    assert response.status_code == 302
    assert not shown_everywhere(client, tester.name) and shown_everywhere(client, kept.name)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "citizen.staff"))
    assert entry.actor == city.phone and tester.phone in entry.detail

    listing = client.get("/admin/results").get_data(as_text=True)
    rows = dict(re.findall(r'/admin/results/citizens/\d+[^>]*>([^<]+)</a>(.*?)</td>', listing))
    assert set(rows) == {kept.name, tester.name, city.name}  # every attempt is kept
    assert "测试" in rows[tester.name] and "内部" in rows[city.name] and "tag" not in rows[kept.name]
    assert 'id="internal-label">测试' in client.get(f"/admin/results/citizens/{tester.id}").get_data(as_text=True)


def test_district_organizers_cannot_mark_staff(app, client, open_contest, two_citizens):
    kept, tester = two_citizens
    sign_in(client, make_organizer("district", "wujin"))
    page = client.get(f"/admin/results/citizens/{tester.id}").get_data(as_text=True)
    assert 'id="staff-form"' not in page
    response = client.post(f"/admin/results/citizens/{tester.id}/staff", data={"staff": "1"},
                           headers={"X-CSRFToken": csrf_token(client, app)})
    assert response.status_code == 403
    assert shown_everywhere(client, tester.name)


# ---- item 7: the phone filter ---------------------------------------------------

@pytest.fixture
def wujin_result(contest, citizens):
    question = db.session.scalar(select(Question).where(Question.qid == "achievements-001"))
    citizen = citizens.make(district="wujin", name="周五")
    finished_attempt(contest, citizen, DURING, [(question, list(question.answer), 10)])
    return citizen


def listed(page: str) -> list[str]:
    body = re.search(r'<table class="data" id="results">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return re.findall(r'/admin/results/citizens/\d+[^>]*>([^<]+)</a>', body)


def test_a_district_organizers_phone_filter_is_refused(client, wujin_result):
    sign_in(client, make_organizer("district", "wujin"))
    response = client.get(f"/admin/results?phone={wujin_result.phone}")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert listed(page) == [] and "只有市级组织者可以按手机号查询" in page
    assert response.status_code == 403 == client.get("/admin/results?phone=13900000099").status_code
    assert listed(client.get("/admin/results").get_data(as_text=True)) == [wujin_result.name]  # masked list as before


def test_a_city_organizers_phone_filter_is_audited(client, wujin_result):
    city = make_organizer("city")
    sign_in(client, city)
    page = client.get(f"/admin/results?phone={wujin_result.phone}").get_data(as_text=True)
    assert listed(page) == [wujin_result.name]
    client.get("/admin/results")  # no phone: nothing to audit
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "results.phone")).all()
    assert [(e.actor, e.detail.split()[0]) for e in entries] == [(city.phone, wujin_result.phone)]


@pytest.fixture
def limited_app(app_with):
    built = app_with(RATELIMIT_ENABLED=True, LOGIN_FAILURE_LIMIT="3 per 5 minutes")
    yield built
    with built.app_context():
        dispose_engines()
    if built.extensions["quiz_redis"]._client is not None:
        built.extensions["quiz_redis"]._client.close()
    # The limiter is process-wide: close this app's storage for the next test.
    limiter.storage.storage.close()
    limiter._storage_dead = False


def test_a_city_organizers_phone_filter_is_limited_like_a_login(limited_app, wujin_result):
    city = make_organizer("city")
    client = limited_app.test_client()
    sign_in(client, city)
    for n in range(3):
        assert client.get(f"/admin/results?phone=1390000{n:04d}").status_code == 200
    refused = client.get(f"/admin/results?phone={wujin_result.phone}")
    assert refused.status_code == 429 and wujin_result.name not in refused.get_data(as_text=True)
    assert client.get("/admin/results").status_code == 200  # the list without the phone filter is not limited
    assert db.session.query(AuditEntry).filter_by(action="results.phone").count() == 3


# ---- paging ------------------------------------------------------------------------

def test_a_citizens_attempts_are_paged(client, contest, citizens):
    question = db.session.scalar(select(Question).where(Question.qid == "achievements-001"))
    keen = citizens.make(district="wujin", name="吴勤")
    for n in range(55):
        finished_attempt(contest, keen, DURING + timedelta(minutes=n), [(question, list(question.answer), 10)])
    sign_in(client, make_organizer("city"))
    first = client.get(f"/admin/results/citizens/{keen.id}").get_data(as_text=True)
    assert first.count('class="panel attempt"') == 50 and "第 1 / 2 页" in first
    second = client.get(f"/admin/results/citizens/{keen.id}?page=2").get_data(as_text=True)
    assert second.count('class="panel attempt"') == 5 and "第 2 / 2 页" in second
