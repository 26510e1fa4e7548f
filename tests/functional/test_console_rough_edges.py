"""The console's rough edges (issue 19): answers as the citizen saw them, the bank browser's
options, one style for every input, no empty error box, partial phone search for city
organizers, and bars drawn and labelled with exact values."""
import html
import io
import re
from pathlib import Path

import pytest
from admin_console import finished_attempt, make_organizer, page_token, sign_in
from conftest import BANKS, DURING
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from quiz.contest.attempt_sql import DISPLAY_KEYS
from quiz.extensions import db
from quiz.models import Attempt, AttemptQuestion, Question
from quiz.web.admin import charts

ADMIN_CSS = Path(__file__).resolve().parents[2] / "quiz" / "static" / "admin.css"


def question(qid: str) -> Question:
    return db.session.scalar(select(Question).where(Question.qid == qid))


def test_the_citizen_page_shows_answers_as_the_citizen_saw_them(client, contest, citizens):
    single = db.session.scalar(select(Question).where(Question.type == "single").order_by(Question.id))
    judge = db.session.scalar(select(Question).where(Question.type == "judge").order_by(Question.id))
    citizen = citizens.make(district="wujin", name="张三")
    wrong = next(key for key, _ in single.options if key not in single.answer)
    attempt = finished_attempt(contest, citizen, DURING, [(single, [wrong], 10), (judge, list(judge.answer), 20)])
    # The citizen's paper showed the options in reverse: bank key -> the letter they saw.
    item = db.session.scalar(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt.id,
                                                          AttemptQuestion.question_id == single.id))
    item.option_order = [key for key, _ in reversed(single.options)]
    db.session.commit()
    seen = {bank_key: DISPLAY_KEYS[i] for i, bank_key in enumerate(item.option_order)}
    texts = dict(single.options)

    sign_in(client, make_organizer("city"))
    page = html.unescape(client.get(f"/admin/results/citizens/{citizen.id}?contest={contest.id}").get_data(as_text=True))
    cells = [re.findall(r'<td class="as-seen">(.*?)</td>', row, re.S)
             for row in re.findall(r"<tr>\s*<td class=\"num\">\d+</td>(.*?)</tr>", page, re.S)]
    assert cells[0] == [f"{seen[wrong]}. {texts[wrong]}", f"{seen[single.answer[0]]}. {texts[single.answer[0]]}"]
    judged = "正确" if judge.answer == ["true"] else "错误"
    assert cells[1] == [judged, judged]
    assert "（已交卷）" in page
    assert db.session.get(Attempt, attempt.id).status == "submitted"


def test_the_bank_browser_numbers_options_once(client, contest):
    sign_in(client, make_organizer("city"))
    bank_id = question("achievements-001").bank_id
    page = client.get(f"/admin/banks/{bank_id}?q=achievements-001").get_data(as_text=True)
    options = re.search(r'<ul class="options">(.*?)</ul>', page, re.S).group(1)
    assert re.findall(r"<li>([A-Z])\. ", options)[:2] == ["A", "B"]
    assert '<ol class="options">' not in page  # an <ol> numbered them again: "1. A."
    assert "list-style: none" in re.search(r"\.options \{[^}]*\}", ADMIN_CSS.read_text()).group(0)


def test_a_bank_check_that_passes_shows_no_error_box(client):
    sign_in(client, make_organizer("city"))
    token = page_token(client.get("/admin/banks").get_data(as_text=True))
    boundary, body = encode_multipart({"csrf_token": token, "action": "dry-run",
                                       "file": FileStorage(io.BytesIO((BANKS / "good.yaml").read_bytes()), "good.yaml")})
    page = client.post("/admin/banks", data=body, content_type=f"multipart/form-data; boundary={boundary}").get_data(as_text=True)
    assert "检查通过" in page
    assert 'id="bank-problems"' not in page and 'class="problems"' not in page


def test_every_console_input_is_styled_like_the_text_fields():
    css = ADMIN_CSS.read_text()
    rule = re.search(r'(input:not\(\[type\]\), input\[type="text"\][^{]*)\{([^}]*)\}', css, re.S)
    assert rule, "no common input rule in admin.css"
    selectors, body = rule.groups()
    for kind in ("number", "date", "datetime-local", "tel", "password", "search"):
        assert f'input[type="{kind}"]' in selectors, kind
    assert "select" in selectors and "textarea" in selectors
    assert "min-height: 48px" in body and "border: 2px solid" in body  # as site.css's .field text inputs


@pytest.fixture
def two_citizens(contest, citizens):
    q = question("achievements-001")
    people = [citizens.make(district="wujin", name="张三", phone="13912345678"),
              citizens.make(district="liyang", name="王五", phone="13800001111")]
    for person in people:
        finished_attempt(contest, person, DURING, [(q, list(q.answer), 10)])
    return people


def listed(page: str) -> list[str]:
    body = re.search(r'<table class="data" id="results">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return re.findall(r'/admin/results/citizens/\d+[^>]*>([^<]+)</a>', body)


def test_city_organizers_find_results_by_part_of_a_phone(client, two_citizens):
    sign_in(client, make_organizer("city"))
    assert listed(client.get("/admin/results?phone=5678").get_data(as_text=True)) == ["张三"]
    assert listed(client.get("/admin/results?phone=1391234").get_data(as_text=True)) == ["张三"]
    assert sorted(listed(client.get("/admin/results?phone=139").get_data(as_text=True))) == []  # 3 digits: refused
    assert sorted(listed(client.get("/admin/results?phone=13800001111").get_data(as_text=True))) == ["王五"]
    too_short = client.get("/admin/results?phone=139").get_data(as_text=True)
    assert "4 到 11 位数字" in too_short


def test_district_organizers_still_cannot_search_by_phone(client, two_citizens):
    sign_in(client, make_organizer("district", "wujin"))
    response = client.get("/admin/results?phone=5678")
    assert response.status_code == 403 and "张三" not in listed(response.get_data(as_text=True))


def test_overview_bars_are_drawn_and_labelled_with_exact_values():
    svg = str(charts.horizontal_bars([("武进区", 0.004), ("溧阳市", 2.0)], "每万人"))
    widths = [float(w) for w in re.findall(r'class="chart-bar" x="\d+" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths[0] > 0  # 0.004 is not rounded away to an empty bar
    assert re.findall(r'class="chart-value"[^>]*>([^<]*)<', svg) == ["0.00", "2.00"]  # as the table prints them
    columns = str(charts.columns([("0–9%", 3), ("90–100%", 12)], "得分分布", show_values=True))
    assert re.findall(r'class="chart-value"[^>]*>([^<]*)<', columns) == ["3", "12"]


def test_the_overview_prints_the_values_of_its_bars(client, two_citizens, contest):
    sign_in(client, make_organizer("city"))
    page = client.get(f"/admin?contest={contest.id}").get_data(as_text=True)
    scores = re.search(r'<svg class="chart chart-columns"[^>]*aria-label="得分分布[^"]*".*?</svg>', page, re.S).group(0)
    assert re.findall(r'class="chart-value"[^>]*>([^<]*)<', scores)[-1] == "2"  # both scored full marks
