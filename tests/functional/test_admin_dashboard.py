"""Dashboard and question statistics pages: figures, server-drawn SVG charts under a strict CSP."""
import re
from datetime import timedelta

import pytest
from admin_console import finished_attempt, make_organizer, sign_in, wrong_keys
from conftest import DURING
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Question


@pytest.fixture
def thirty_attempts(contest, citizens):
    """30 attempts (20 wujin, 10 liyang) at two questions: q_easy always right, q_hard right once."""
    q_easy, q_hard = (db.session.scalar(select(Question).where(Question.qid == qid))
                      for qid in ("achievements-001", "achievements-002"))
    for n in range(30):
        citizen = citizens.make(district="wujin" if n < 20 else "liyang")
        finished_attempt(contest, citizen, DURING + timedelta(hours=n % 3, minutes=n), [
            (q_easy, list(q_easy.answer), 15), (q_hard, list(q_hard.answer) if n == 0 else wrong_keys(q_hard), 45)])
    return contest, q_easy, q_hard


def figure(page: str, name: str) -> str:
    return re.search(rf'id="{name}">([^<]*)<', page).group(1)


def test_dashboard_figures_and_inline_svg_charts(client, thirty_attempts):
    sign_in(client, make_organizer("city"))
    response = client.get("/admin")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert figure(page, "participants-total") == "30" and figure(page, "attempts-total") == "30"
    assert figure(page, "participants-today") == "0"  # the sample contest ran in 2021
    assert page.count("<svg") == 3
    # wujin: 20 participants per 1,390,000 residents = 0.14 per 10,000
    assert ">0.14<" in page and "武进区" in page
    # The CSP (style-src 'self', script-src 'self') would block inline styles and scripts.
    assert "<script" not in page and "style=" not in page
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert 'href="/static/admin.css' in page


def test_district_organizer_dashboard_shows_only_their_district(client, thirty_attempts):
    sign_in(client, make_organizer("district", "liyang"))
    page = client.get("/admin").get_data(as_text=True)
    assert figure(page, "participants-total") == "10"
    assert "溧阳市" in page and "武进区" not in page


def test_question_statistics_flag_the_hard_question(client, thirty_attempts):
    contest, q_easy, q_hard = thirty_attempts
    sign_in(client, make_organizer("city"))
    page = client.get("/admin/questions").get_data(as_text=True)
    hard = re.search(rf'<tr class="flagged[^"]*" data-qid="{q_hard.qid}">(.*?)</tr>', page, re.S).group(1)
    assert "3.3%" in hard  # 1 of 30
    assert "正确率低于 20%" in hard
    easy = re.search(rf'<tr class="[^"]*" data-qid="{q_easy.qid}">(.*?)</tr>', page, re.S).group(1)
    assert "100.0%" in easy and "15.0 秒" in easy
    # every attempt got q_easy right, so the groups cannot differ: D = 0 -> flagged too
    assert "0.00" in easy and "区分度低于 0.2" in easy
    assert "2 道题需要关注" in page


def test_district_statistics_wait_for_thirty_answers(client, thirty_attempts):
    sign_in(client, make_organizer("district", "liyang"))
    page = client.get("/admin/questions").get_data(as_text=True)
    assert "作答不足 30 次" in page and "0 道题需要关注" in page
