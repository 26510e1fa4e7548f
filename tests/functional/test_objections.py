"""Objections to the 公示 (issue 16): the window, the API and page forms, answers in the console."""
from datetime import timedelta

import pytest
from admin_console import csrf_token, make_organizer, page_token, sign_in
from conftest import CONTEST_END, DURING, SAMPLE_CONTEST, finish_attempt

from quiz import awards
from quiz.clock import utcnow
from quiz.contest.definition import import_contest
from quiz.extensions import db
from quiz.models import AuditEntry, Award, Contest, Objection
from quiz.objections import MAX_PER_CITIZEN, ObjectionWindowClosed, answer_objection, file_objection, window_blocker

AFTER = CONTEST_END + timedelta(hours=1)
TIERS = "\nawards:\n  - {name: 一等奖, ranks: \"1-1\"}\nobjection_days: 5\n".encode()


@pytest.fixture
def assigned(contest, citizens):
    """The sample contest (ended in 2021) with one prize assigned, not yet published:
    (contest, winner, another citizen)."""
    c = import_contest(db.session, SAMPLE_CONTEST.read_bytes() + TIERS)[0]
    winner, other = citizens.make(name="张三丰"), citizens.make(district="xinbei", name="李四")
    finish_attempt(winner, c, right=20, seconds=100, now=DURING)
    finish_attempt(other, c, right=10, seconds=100, now=DURING)
    awards.assign(db.session, c, AFTER)
    return c, winner, other


def published(c: Contest, days_ago: float = 0) -> Award:
    awards.publish(db.session, c, utcnow() - timedelta(days=days_ago))
    return db.session.scalar(db.select(Award).where(Award.contest_id == c.id))


def test_the_window_is_publication_plus_objection_days(assigned):
    c, winner, other = assigned
    assert "尚未公示" in window_blocker(c, AFTER)
    awards.publish(db.session, c, AFTER)
    assert window_blocker(c, AFTER) is None
    assert window_blocker(c, AFTER + timedelta(days=5) - timedelta(seconds=1)) is None
    assert "公示期已于" in window_blocker(c, AFTER + timedelta(days=5))
    with pytest.raises(ObjectionWindowClosed):
        file_objection(db.session, c, other, "self", "晚了", AFTER + timedelta(days=5))
    assert file_objection(db.session, c, other, "self", "按时", AFTER + timedelta(days=1)).id


def test_api_objection_201_409_422_401_and_the_limit(assigned, api, client):
    c, winner, other = assigned
    api.login(other.phone)
    closed = api.post("/api/v1/objections", json={"about": "self", "text": "我的成绩有误"})
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "objection_window_closed"
    award = published(c)
    assert client.post("/api/v1/objections", json={"about": "self", "text": "x"}).status_code == 401
    filed = api.post("/api/v1/objections", json={"about": award.id, "text": "第一名成绩存疑"})
    assert filed.status_code == 201
    body = filed.get_json()
    assert body["id"] and body["about"] == f"award:{award.id}" and body["about_label"] == "一等奖 第 1 名 张*丰"
    for bad, field in [({"about": "999", "text": "x"}, "about"), ({"about": "someone", "text": "x"}, "about"),
                       ({"text": "x"}, "about"), ({"about": "self", "text": " "}, "text"),
                       ({"about": "self", "text": "长" * 1001}, "text"), ({"about": "self"}, "text")]:
        refused = api.post("/api/v1/objections", json=bad)
        assert refused.status_code == 422 and refused.get_json()["error"]["field"] == field, (bad, refused.get_json())
    for n in range(MAX_PER_CITIZEN - 1):
        assert api.post("/api/v1/objections", json={"about": "self", "text": f"第 {n} 条"}).status_code == 201
    flood = api.post("/api/v1/objections", json={"about": "self", "text": "再来一条"})
    assert flood.status_code == 429 and flood.get_json()["error"]["code"] == "objection_limit"
    mine = api.get("/api/v1/objections").get_json()["objections"]
    assert len(mine) == MAX_PER_CITIZEN and mine[0]["answer"] is None
    # After the deadline: 409.
    c = db.session.get(Contest, c.id)
    c.awards_published_at = utcnow() - timedelta(days=5, seconds=1)
    db.session.commit()
    late = api.post("/api/v1/objections", json={"about": "self", "text": "晚了"})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "objection_window_closed"


def test_page_form_names_the_field_and_the_console_answer_reaches_the_citizen(assigned, app, client):
    c, winner, other = assigned
    award = published(c)
    sign_in(client, other)
    page = client.get("/awards").get_data(as_text=True)
    assert 'id="objection-form"' in page and f'value="{award.id}"' in page
    token = page_token(page)
    empty = client.post("/awards/objections", data={"csrf_token": token, "about": "self", "text": ""})
    assert empty.status_code == 422 and 'id="text-error"' in empty.get_data(as_text=True)
    assert "异议内容：" in empty.get_data(as_text=True)
    unknown = client.post("/awards/objections", data={"csrf_token": token, "about": "12345", "text": "x"})
    assert unknown.status_code == 422 and 'id="about-error"' in unknown.get_data(as_text=True)
    no_csrf = client.post("/awards/objections", data={"about": "self", "text": "x"})
    assert no_csrf.status_code == 302 and db.session.scalar(db.select(db.func.count()).select_from(Objection)) == 0
    filed = client.post("/awards/objections", data={"csrf_token": token, "about": str(award.id), "text": "他的单位填错了"})
    assert filed.status_code == 302
    page = client.get("/awards").get_data(as_text=True)
    assert 'id="my-objections"' in page and "他的单位填错了" in page and "等待组织者答复" in page
    objection = db.session.scalar(db.select(Objection))

    organizer = app.test_client()
    sign_in(organizer, make_organizer("district", "xinbei"))  # the filer's district
    console = organizer.get("/admin/awards").get_data(as_text=True)
    assert "他的单位填错了" in console and other.phone not in console
    blank = organizer.post(f"/admin/objections/{objection.id}/answer", data={"csrf_token": csrf_token(organizer, app), "answer": ""})
    assert blank.status_code == 302 and "请填写答复内容" in organizer.get("/admin/awards").get_data(as_text=True)
    answered = organizer.post(f"/admin/objections/{objection.id}/answer", data={
        "csrf_token": csrf_token(organizer, app), "answer": "经核实，单位信息无误。"})
    assert answered.status_code == 302
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "objection.answer")) is not None
    page = client.get("/awards").get_data(as_text=True)
    assert "组织者答复" in page and "经核实，单位信息无误。" in page
    wujin = app.test_client()
    sign_in(wujin, make_organizer("district", "wujin"))
    assert "他的单位填错了" not in wujin.get("/admin/awards").get_data(as_text=True)
    assert wujin.post(f"/admin/objections/{objection.id}/answer", data={
        "csrf_token": csrf_token(wujin, app), "answer": "越权"}).status_code == 403


def test_api_lists_the_answer_and_organizers_cannot_file(assigned, api, new_api):
    c, winner, other = assigned
    published(c)
    api.login(other.phone)
    filed = api.post("/api/v1/objections", json={"about": "self", "text": "请复核我的成绩"}).get_json()
    objection = db.session.get(Objection, filed["id"])
    answer_objection(db.session, objection, "已复核，成绩无误。", utcnow(), None)
    listed = api.get("/api/v1/objections").get_json()["objections"]
    assert [(o["id"], o["about_label"], o["answer"]) for o in listed] == [(filed["id"], "本人成绩", "已复核，成绩无误。")]
    make_organizer("city", phone="13700000009")
    organizer = new_api().login("13700000009", "organizer-pass-1")
    assert organizer.post("/api/v1/objections", json={"about": "self", "text": "x"}).status_code == 403
