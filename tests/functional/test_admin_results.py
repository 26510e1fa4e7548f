"""Results: filters, pages, one citizen's answers; district organizers see their district, masked phones."""
import re
from datetime import timedelta

import pytest
from admin_console import finished_attempt, make_organizer, sign_in, wrong_keys
from conftest import DURING
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Question


@pytest.fixture
def world(contest, citizens):
    q1, q2 = (db.session.scalar(select(Question).where(Question.qid == qid)) for qid in ("achievements-001", "spirit-001"))
    people = {
        "张三": citizens.make(district="wujin", name="张三", group="青少年"),
        "李四": citizens.make(district="wujin", name="李四", group="农民"),
        "王五": citizens.make(district="liyang", name="王五", group="青少年"),
    }
    # 张三: 10 points on the 23rd; 李四: 5 points on the 24th; 王五: 0 points on the 23rd
    finished_attempt(contest, people["张三"], DURING, [(q1, list(q1.answer), 20), (q2, list(q2.answer), 40)])
    finished_attempt(contest, people["李四"], DURING + timedelta(days=1), [(q1, list(q1.answer), 20), (q2, wrong_keys(q2), 40)])
    finished_attempt(contest, people["王五"], DURING, [(q1, wrong_keys(q1), 20), (q2, None, None)])
    return contest, people, q1, q2


def listed(page: str) -> list[str]:
    body = re.search(r'<table class="data" id="results">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return re.findall(r'/admin/results/citizens/\d+[^>]*>([^<]+)</a>', body)


def test_city_organizer_filters_results_and_sees_full_phones(client, world):
    contest, people, *_ = world
    sign_in(client, make_organizer("city"))
    page = client.get("/admin/results").get_data(as_text=True)
    assert sorted(listed(page)) == ["张三", "李四", "王五"]
    assert people["张三"].phone in page
    assert listed(client.get("/admin/results?district=liyang").get_data(as_text=True)) == ["王五"]
    assert listed(client.get("/admin/results?group=青少年&score_min=5").get_data(as_text=True)) == ["张三"]
    assert listed(client.get("/admin/results?day=2021-05-24").get_data(as_text=True)) == ["李四"]
    assert sorted(listed(client.get("/admin/results?score_max=5").get_data(as_text=True))) == ["李四", "王五"]
    assert listed(client.get(f"/admin/results?phone={people['王五'].phone}").get_data(as_text=True)) == ["王五"]


def test_district_organizer_sees_own_district_with_masked_phones(client, world):
    contest, people, *_ = world
    sign_in(client, make_organizer("district", "wujin"))
    page = client.get("/admin/results?district=liyang").get_data(as_text=True)  # another district is ignored
    assert sorted(listed(page)) == ["张三", "李四"]
    phone = people["张三"].phone
    assert phone not in page and f"{phone[:3]}****{phone[-4:]}" in page

    assert client.get(f"/admin/results/citizens/{people['王五'].id}").status_code == 403
    page = client.get(f"/admin/results/citizens/{people['张三'].id}").get_data(as_text=True)
    assert "张三 的答题记录" in page and phone not in page


def test_one_citizens_attempts_show_every_answer(client, world):
    contest, people, q1, q2 = world
    sign_in(client, make_organizer("city"))
    page = client.get(f"/admin/results/citizens/{people['王五'].id}").get_data(as_text=True)
    assert "0 / 10 分" in page and "答对 0 / 2 题" in page
    assert q1.stem in page and q2.stem in page
    assert "未作答" in page
    rows = re.findall(r"<tr>\s*<td class=\"num\">\d+</td>(.*?)</tr>", page, re.S)
    assert len(rows) == 2 and all('class="wrong"' in row for row in rows)


def test_results_are_paginated(client, contest, citizens):
    question = db.session.scalar(select(Question).where(Question.qid == "achievements-001"))
    keen = citizens.make(district="wujin", name="赵六")
    for n in range(55):
        finished_attempt(contest, keen, DURING + timedelta(minutes=n), [(question, list(question.answer), 10)])
    sign_in(client, make_organizer("city"))
    first = client.get("/admin/results").get_data(as_text=True)
    assert "共 55 条" in first and len(listed(first)) == 50 and "第 1 / 2 页" in first
    second = client.get("/admin/results?page=2").get_data(as_text=True)
    assert len(listed(second)) == 5
