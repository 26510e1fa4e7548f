"""The contest form and YAML upload: validator limits, paper shortfalls, confirming a running contest's changes."""
import html
import io

import pytest
from admin_console import make_organizer, page_token, sign_in
from conftest import SAMPLE_CONTEST
from sqlalchemy import select

from quiz.clock import local
from quiz.extensions import db
from quiz.models import AuditEntry, Contest

DISTRICTS = [("liyang", "溧阳市", 785000), ("wujin", "武进区", 1390000)]


@pytest.fixture
def city(client, app):
    organizer = make_organizer("city")
    sign_in(client, organizer)
    return organizer


def contest_form(token, slug="cz-2022", starts="2022-05-21T08:00", ends="2022-06-04T22:00", paper=(), **overrides):
    data = {"csrf_token": token, "slug": slug, "title": "第四届大赛", "theme": "科技自立自强", "bank": "cz-science-2021",
            "starts_at": starts, "ends_at": ends, "time_limit_s": "600", "questions_per_attempt": "20",
            "attempts_per_day": "1", "max_attempts": "7", "points_single": "5", "points_multiple": "5", "points_judge": "5"}
    for i, row in enumerate(paper):
        for key, value in row.items():
            data[f"paper-{i}-{key}"] = str(value)
    for i, (code, name, population) in enumerate(DISTRICTS):
        data |= {f"districts-{i}-code": code, f"districts-{i}-name": name, f"districts-{i}-population": str(population)}
    return data | overrides


def form_of(contest: Contest, token, **overrides):
    starts, ends = (local(t).strftime("%Y-%m-%dT%H:%M") for t in (contest.starts_at, contest.ends_at))
    data = contest_form(token, contest.slug, starts, ends, contest.paper)
    for i, district in enumerate(contest.districts):
        data |= {f"districts-{i}-code": district["code"], f"districts-{i}-name": district["name"],
                 f"districts-{i}-population": str(district["population"])}
    return data | overrides


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_create_a_contest_with_the_form(client, city, sample_bank):
    token = page_token(client.get("/admin/contests/new").get_data(as_text=True))
    response = client.post("/admin/contests/new", data=contest_form(token, paper=[{"category": "spirit", "count": 2}]))
    assert response.status_code == 302
    contest = db.session.scalar(select(Contest).where(Contest.slug == "cz-2022"))
    # 08:00 Asia/Shanghai is 00:00 UTC
    assert contest.starts_at.isoformat() == "2022-05-21T00:00:00"
    assert contest.paper == [{"category": "spirit", "count": 2}]
    assert [d["code"] for d in contest.districts] == ["liyang", "wujin"]
    assert db.session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "contest.create")) == "cz-2022"
    assert "第四届大赛" in client.get("/admin/contests").get_data(as_text=True)


def test_paper_shortfall_names_the_category_and_saves_nothing(client, city, sample_bank):
    token = page_token(client.get("/admin/contests/new").get_data(as_text=True))
    response = client.post("/admin/contests/new", data=contest_form(
        token, paper=[{"category": "spirit", "type": "multiple", "count": 10}, {"difficulty": 3, "type": "multiple", "count": 1}]))
    assert response.status_code == 422
    page = text(response)
    assert "category=spirit, type=multiple）要求 10 道题，但题库中符合条件的只有 8 道" in page
    assert "第 15 行" not in page  # lines of a YAML file the organizer never saw would confuse
    assert db.session.scalar(select(Contest)) is None


@pytest.mark.parametrize("overrides, message", [
    ({"time_limit_s": "7201"}, "数值大小必须介于 10 到 7200 之间"),
    ({"ends_at": "2023-05-22T08:01"}, "竞赛时间最长 366 天"),
    ({"ends_at": "2022-05-20T08:00"}, "结束时间必须晚于开始时间"),
    ({"bank": "no-such-bank"}, "不是有效的选择"),
])
def test_contest_limits_are_kept(client, city, sample_bank, overrides, message):
    token = page_token(client.get("/admin/contests/new").get_data(as_text=True))
    response = client.post("/admin/contests/new", data=contest_form(token, **overrides))
    assert response.status_code == 422
    assert message in text(response)
    assert db.session.scalar(select(Contest)) is None


def test_changing_a_running_contests_rules_needs_confirmation_and_is_audited(client, city, open_contest):
    edit = f"/admin/contests/{open_contest.id}/edit"
    page = client.get(edit).get_data(as_text=True)
    assert "正在进行中" in page and 'value="600"' in page
    token = page_token(page)

    response = client.post(edit, data=form_of(open_contest, token, time_limit_s="900"))
    assert response.status_code == 409
    assert "time_limit_s" in text(response) and 'id="confirm-needed"' in text(response)
    db.session.refresh(open_contest)
    assert open_contest.time_limit_s == 600

    response = client.post(edit, data=form_of(open_contest, token, time_limit_s="900", confirm="y"))
    assert response.status_code == 302
    db.session.refresh(open_contest)
    assert open_contest.time_limit_s == 900
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "contest.edit_running"))
    assert entry.actor == city.phone and entry.detail == "cz-2021-3rd: time_limit_s"


def test_a_new_title_on_a_running_contest_needs_no_confirmation(client, city, open_contest):
    edit = f"/admin/contests/{open_contest.id}/edit"
    token = page_token(client.get(edit).get_data(as_text=True))
    response = client.post(edit, data=form_of(open_contest, token, title="新的名称"))
    assert response.status_code == 302
    db.session.refresh(open_contest)
    assert open_contest.title == "新的名称"


def test_upload_a_contest_definition_file(client, city, sample_bank):
    token = page_token(client.get("/admin/contests").get_data(as_text=True))
    response = client.post("/admin/contests/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(SAMPLE_CONTEST.read_bytes()), "contest.yaml")})
    assert response.status_code == 302
    assert db.session.scalar(select(Contest.slug)) == "cz-2021-3rd"

    broken = SAMPLE_CONTEST.read_bytes().replace(b"time_limit_s: 600", b"time_limit_s: 9000")
    response = client.post("/admin/contests/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(broken), "contest.yaml")})
    assert response.status_code == 422
    assert "time_limit_s 必须是 10 到 7200 之间的整数" in text(response)
