"""The citizen's pages through the Flask test client, without JavaScript: register,
log in, start, answer, hand in, see the result; and what the pages must never show."""
import json
import re
from datetime import datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select, update

from quiz import leaderboard
from quiz.clock import utcnow
from quiz.contest import attempts as attempt_rules
from quiz.extensions import db
from quiz.models import Attempt

CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]*)"')
OPTION_INPUT = re.compile(r'<input type="(radio|checkbox)" name="q-([^"]+)" value="([^"]+)"( checked)?>')


class Browser:
    """A citizen's phone without JavaScript: keeps cookies and the last page's CSRF token."""

    def __init__(self, app):
        self.client = app.test_client()
        self.token = None
        self.html = ""

    def get(self, path, **kw):
        response = self.client.get(path, **kw)
        self.html = response.get_data(as_text=True)
        match = CSRF_INPUT.search(self.html)
        if match:
            self.token = VALUE.search(match.group(0)).group(1)
        return response

    def post(self, path, data=None, page=None):
        """Submit a form: the CSRF token comes from `page` (fetched first) or the last page."""
        if page is not None:
            self.get(page)
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})})

    def follow(self, response):
        assert response.status_code in (302, 303), response.status_code
        return self.get(response.headers["Location"])

    def register(self, phone="13900000001", name="张三丰", district="wujin", password="password123", **extra):
        data = {"phone": phone, "name": name, "district": district, "password": password, "consent": "y", **extra}
        return self.post("/register", data, page="/register")

    def login(self, phone, password="password123", remember=False):
        data = {"phone": phone, "password": password, **({"remember": "y"} if remember else {})}
        return self.post("/login", data, page="/login")

    def logout(self):
        return self.post("/logout", page="/")

    def start(self):
        return self.post("/quiz/start", page="/")

    def quiz_inputs(self) -> dict:
        """{qid: (input type, [values], [checked values])} from the current page."""
        found = {}
        for kind, qid, value, checked in OPTION_INPUT.findall(self.html):
            entry = found.setdefault(qid, (kind, [], []))
            entry[1].append(value)
            if checked:
                entry[2].append(value)
        return found


@pytest.fixture
def browser(app):
    return Browser(app)


@pytest.fixture
def other_browser(app):
    return Browser(app)


def current_attempt(phone) -> Attempt:
    db.session.expire_all()
    return db.session.scalar(select(Attempt).join(Attempt.user).where(Attempt.user.has(phone=phone))
                             .order_by(Attempt.id.desc()).limit(1))


def right_answers(attempt: Attempt) -> dict:
    return {item.question.qid: attempt_rules.to_display(item, item.question.answer) for item in attempt.items}


def form_answers(answers: dict) -> dict:
    return {f"q-{qid}": choices for qid, choices in answers.items()}


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no #{element_id}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def move_deadline_to_past(attempt_id: int, seconds_ago: int = 60):
    attempt = db.session.get(Attempt, attempt_id)
    deadline = utcnow() - timedelta(seconds=seconds_ago)
    db.session.execute(update(Attempt).where(Attempt.id == attempt_id).values(
        deadline=deadline, started_at=deadline - timedelta(seconds=attempt.contest.time_limit_s)))
    db.session.commit()


# ---- the whole flow ----------------------------------------------------------------

def test_register_log_in_start_answer_hand_in_and_see_the_result(browser, open_contest):
    response = browser.register()
    assert response.headers["Location"] == "/"
    assert "注册成功" in browser.follow(response).get_data(as_text=True)
    browser.logout()
    assert browser.get("/me").status_code == 302  # logged out

    assert browser.login("13900000001", remember=True).status_code == 302
    assert 'id="start-quiz"' in browser.get("/").get_data(as_text=True)
    assert browser.start().headers["Location"] == "/quiz"

    page = browser.get("/quiz").get_data(as_text=True)
    inputs = browser.quiz_inputs()
    assert len(inputs) == open_contest.questions_per_attempt
    assert page.count('class="question"') == 20
    countdown = re.search(r'id="countdown" data-deadline="([^"]+)" data-seconds-left="(\d+)"', page)
    assert 590 <= int(countdown.group(2)) <= 600
    assert datetime.fromisoformat(countdown.group(1)).utcoffset() == timedelta(hours=8)

    attempt = current_attempt("13900000001")
    answers = right_answers(attempt)
    wrong_qid = next(qid for qid, (kind, _, _) in inputs.items() if kind == "radio")
    values = inputs[wrong_qid][1]
    answers[wrong_qid] = [next(v for v in values if [v] != answers[wrong_qid])]
    response = browser.post(f"/quiz/{attempt.id}/answers", {**form_answers(answers), "action": "submit"})
    assert response.headers["Location"] == f"/result/{attempt.id}"

    result = browser.get(f"/result/{attempt.id}").get_data(as_text=True)
    assert text_of(result, "score").startswith("95")
    assert re.fullmatch(r"\d+:\d\d", text_of(result, "time-used"))  # quiz.figures.time_used_text
    assert text_of(result, "rank-city") == "第 1 名"
    assert text_of(result, "rank-district") == "第 1 名"
    assert result.count('class="review-item correct"') == 19
    assert result.count('class="review-item wrong"') == 1
    assert result.count("✓ 正确") == 19 and result.count("✗ 错误") == 1
    for item in attempt.items:
        assert str(escape(item.question.explanation)) in result
    assert 'id="auto-submitted"' not in result
    assert "13900000001" not in result

    me = browser.get("/me").get_data(as_text=True)
    assert f'href="/result/{attempt.id}"' in me and "95 分" in me
    assert "张*丰" in me and "13900000001" not in me
    assert leaderboard.top(open_contest)["entries"][0]["name"] == "张*丰"


def test_register_errors_name_their_field(browser, open_contest, citizens):
    page = browser.post("/register", {"phone": "12345", "name": "", "district": "nowhere", "password": "short"},
                        page="/register").get_data(as_text=True)
    assert "手机号码：请输入 11 位中国大陆手机号码。" in page
    assert "姓名：请填写姓名。" in page
    assert 'id="district-error"' in page
    assert "密码：密码至少 8 个字符。" in page
    assert "我已阅读并同意上述个人信息说明：请阅读并勾选同意个人信息说明。" in page
    assert 'aria-invalid="true"' in page

    citizens.make(phone="13900000002")
    page = browser.register(phone="13900000002").get_data(as_text=True)
    assert 'id="phone-error"' in page and "已注册" in page
    assert db.session.scalar(select(Attempt)) is None


def test_a_failed_login_does_not_tell_whether_the_phone_is_registered(browser, open_contest, citizens):
    citizens.make(phone="13900000003")
    wrong_password = browser.login("13900000003", password="wrong-password").get_data(as_text=True)
    unknown_phone = browser.login("13900000099", password="wrong-password").get_data(as_text=True)
    error = re.compile(r'<p class="form-error" id="login-error"[^>]*>[^<]*</p>')
    assert error.search(wrong_password).group(0) == error.search(unknown_phone).group(0)
    assert browser.get("/me").status_code == 302


def test_logout_only_by_post_and_it_ends_the_session(browser, open_contest, citizens):
    citizens.make(phone="13900000004")
    browser.login("13900000004")
    assert browser.client.get("/logout").status_code == 405
    assert browser.get("/me").status_code == 200
    assert browser.logout().status_code == 302
    assert browser.get("/me").headers["Location"].startswith("/login")


def test_login_returns_to_a_local_page_only(browser, open_contest, citizens):
    citizens.make(phone="13900000005")
    browser.get("/login?next=/me")
    response = browser.client.post("/login?next=/me", data={"csrf_token": browser.token, "phone": "13900000005",
                                                            "password": "password123"})
    assert response.headers["Location"] == "/me"
    browser.logout()
    browser.get("/login?next=https://evil.example/")
    response = browser.client.post("/login?next=https://evil.example/", data={
        "csrf_token": browser.token, "phone": "13900000005", "password": "password123"})
    assert response.headers["Location"] == "/"


# ---- answering ---------------------------------------------------------------------

def test_saved_answers_come_back_after_a_reload_and_on_another_device(browser, other_browser, open_contest):
    browser.register(phone="13900000006")
    browser.start()
    browser.get("/quiz")
    attempt = current_attempt("13900000006")
    first, second = attempt.items[0], attempt.items[1]
    first_choice = ["true"] if first.question.type == "judge" else ["A"]
    response = browser.client.post(f"/quiz/{attempt.id}/answer", json={"qid": first.question.qid, "choices": first_choice},
                                   headers={"X-CSRFToken": browser.token})
    assert response.status_code == 200 and response.get_json() == {"saved": True}
    second_choice = ["false"] if second.question.type == "judge" else ["B"]
    # The page's form carries every question's checked state, the autosaved one included.
    response = browser.post(f"/quiz/{attempt.id}/answers", {f"q-{first.question.qid}": first_choice,
                                                             f"q-{second.question.qid}": second_choice, "action": "save"})
    assert response.headers["Location"] == "/quiz"
    assert "答案已保存" in browser.follow(response).get_data(as_text=True)

    inputs = browser.get("/quiz") and browser.quiz_inputs()
    assert inputs[first.question.qid][2] == first_choice
    assert inputs[second.question.qid][2] == second_choice
    assert text_of(browser.html, "answered-count") == "2"

    other_browser.login("13900000006")
    other_browser.get("/quiz")
    assert other_browser.quiz_inputs()[first.question.qid][2] == first_choice
    assert f'action="/quiz/{attempt.id}/answers"' in other_browser.html


def test_autosave_needs_the_csrf_header_and_answers_in_json(browser, other_browser, open_contest):
    browser.register(phone="13900000007")
    browser.start()
    browser.get("/quiz")
    attempt = current_attempt("13900000007")
    qid = attempt.items[0].question.qid
    no_token = browser.client.post(f"/quiz/{attempt.id}/answer", json={"qid": qid, "choices": ["A"]})
    assert no_token.status_code == 400 and no_token.get_json()["error"]["code"] == "csrf"
    bad = browser.client.post(f"/quiz/{attempt.id}/answer", json={"qid": qid, "choices": ["Z"]},
                              headers={"X-CSRFToken": browser.token})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "choices"

    other_browser.register(phone="13900000008")
    other_browser.get("/")
    stranger = other_browser.client.post(f"/quiz/{attempt.id}/answer", json={"qid": qid, "choices": ["A"]},
                                         headers={"X-CSRFToken": other_browser.token})
    assert stranger.status_code == 404 and stranger.get_json()["error"]["code"] == "not_found"
    assert other_browser.get(f"/result/{attempt.id}").status_code == 404


def test_an_expired_attempt_is_handed_in_when_the_citizen_comes_back(browser, open_contest):
    browser.register(phone="13900000009")
    browser.start()
    browser.get("/quiz")
    attempt = current_attempt("13900000009")
    answers = right_answers(attempt)
    first_qid = attempt.items[0].question.qid
    browser.post(f"/quiz/{attempt.id}/answers", {f"q-{first_qid}": answers[first_qid], "action": "save"})
    move_deadline_to_past(attempt.id)

    response = browser.get("/quiz")
    assert response.headers["Location"] == f"/result/{attempt.id}"
    result = browser.follow(response).get_data(as_text=True)
    assert "时间到，系统已自动交卷" in text_of(result, "auto-submitted")
    assert text_of(result, "score").startswith("5 ")  # the one answer saved in time counts
    assert text_of(result, "time-used") == "10:00"


def test_handing_in_after_the_deadline_keeps_the_answers_saved_in_time(browser, open_contest):
    browser.register(phone="13900000010")
    browser.start()
    browser.get("/quiz")
    attempt = current_attempt("13900000010")
    answers = right_answers(attempt)
    first_qid = attempt.items[0].question.qid
    browser.post(f"/quiz/{attempt.id}/answers", {f"q-{first_qid}": answers[first_qid], "action": "save"})
    move_deadline_to_past(attempt.id)
    response = browser.post(f"/quiz/{attempt.id}/answers", {**form_answers(answers), "action": "submit"})
    assert response.headers["Location"] == f"/result/{attempt.id}"
    assert text_of(browser.follow(response).get_data(as_text=True), "score").startswith("5 ")


# ---- rules on the pages ----------------------------------------------------------------

def test_domain_errors_become_messages_on_the_page(browser, open_contest):
    browser.register(phone="13900000011")
    browser.start()
    attempt = current_attempt("13900000011")
    browser.post(f"/quiz/{attempt.id}/answers", {"action": "submit"}, page="/quiz")
    landing = browser.get("/").get_data(as_text=True)
    assert 'id="start-quiz"' not in landing
    assert "今天的 1 次答题机会已用完" in text_of(landing, "start-blocked")
    response = browser.start()
    assert response.headers["Location"] == "/"
    page = browser.follow(response).get_data(as_text=True)
    assert 'class="flash flash-error"' in page and "今天的 1 次答题机会已用完" in page


def test_a_closed_contest_says_so_instead_of_starting(browser, contest):
    browser.register(phone="13900000012")
    landing = browser.get("/").get_data(as_text=True)
    assert "已经结束" in text_of(landing, "start-blocked")
    assert "2021年05月22日 08:00" in landing  # dates in Asia/Shanghai
    response = browser.start()
    assert "竞赛已经结束" in browser.follow(response).get_data(as_text=True)


def test_practice_shows_answers_after_hand_in_and_never_counts(browser, open_practice_contest):
    open_contest = open_practice_contest  # practice during the contest needs a practice bank (issue 14)
    browser.register(phone="13900000013")
    assert browser.post("/practice/start", page="/practice").headers["Location"] == "/practice"
    page = browser.get("/practice").get_data(as_text=True)
    assert 'id="quiz-form"' in page and 'id="countdown"' not in page
    practice = current_attempt("13900000013")
    assert practice.practice and practice.deadline is None
    response = browser.post(f"/quiz/{practice.id}/answers", {**form_answers(right_answers(practice)), "action": "submit"})
    result = browser.follow(response).get_data(as_text=True)
    assert "练习结果" in result and 'id="rank-city"' not in result
    assert str(escape(practice.items[0].question.explanation)) in result
    assert leaderboard.rank_or_none(open_contest, practice.user) is None  # not on the board
    assert 'id="start-quiz"' in browser.get("/").get_data(as_text=True)
    assert "还没有正式答题成绩" in browser.get("/me").get_data(as_text=True)


def test_large_text_mode_works_without_javascript(browser, open_contest):
    response = browser.get("/text-size?size=large&next=/login")
    assert response.headers["Location"] == "/login"
    page = browser.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN" class="big-text">' in page and "标准字号" in page
    browser.get("/text-size?size=normal&next=//evil.example/")
    assert browser.get("/login").get_data(as_text=True).startswith('<!doctype html>\n<html lang="zh-CN">')
    assert browser.get("/text-size?size=large&next=https://evil.example/").headers["Location"] == "/"


# ---- what pages must never contain ---------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style|\sstyle=", re.I)


def test_every_citizen_page_is_strict_csp_and_phone_friendly(browser, open_contest):
    pages = ["/register", "/login", "/"]
    html = [browser.get(p).get_data(as_text=True) for p in pages]
    browser.register(phone="13900000014")
    browser.start()
    attempt = current_attempt("13900000014")
    for path in ("/", "/quiz", "/me", "/practice"):
        html.append(browser.get(path).get_data(as_text=True))
    browser.post(f"/quiz/{attempt.id}/answers", {"action": "submit"}, page="/quiz")
    html.append(browser.get(f"/result/{attempt.id}").get_data(as_text=True))
    html.append(browser.get("/no-such-page").get_data(as_text=True))
    for page in html:
        assert '<html lang="zh-CN"' in page
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
        assert not INLINE_SCRIPT.search(page), INLINE_SCRIPT.search(page)
        assert not INLINE_STYLE.search(page)
        assert "<table" not in page and "http://" not in page and "https://" not in page  # no CDN, no wide tables
    quiz_page = html[4]
    assert '<script src="/static/quiz.js"></script>' in quiz_page
    assert re.search(r'<label class="option">\s*<input type="(radio|checkbox)"', quiz_page)  # the whole row is the tap target


ANSWER_KEYS = {"answer", "correct_choices", "explanation", "correct", "result", "review"}


def json_keys(value) -> set:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in json_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in json_keys(v)}
    return set()


def test_nothing_an_active_attempt_produces_reveals_the_answers(browser, api, open_contest):
    browser.register(phone="13900000015")
    browser.start()
    attempt = current_attempt("13900000015")
    explanations = [item.question.explanation for item in attempt.items]
    qid = attempt.items[0].question.qid
    choice = ["true"] if attempt.items[0].question.type == "judge" else ["A"]

    pages = [browser.get(path).get_data(as_text=True) for path in ("/quiz", "/", "/me", "/practice")]
    browser.get("/quiz")
    pages.append(browser.post(f"/quiz/{attempt.id}/answers", {f"q-{qid}": choice, "action": "save"}).get_data(as_text=True))
    bodies = [browser.client.post(f"/quiz/{attempt.id}/answer", json={"qid": qid, "choices": choice},
                                  headers={"X-CSRFToken": browser.token}).get_data(as_text=True)]

    api.client = browser.client
    api.login("13900000015")
    bodies += [
        api.post("/api/v1/attempts").get_data(as_text=True),
        api.get(f"/api/v1/attempts/{attempt.id}").get_data(as_text=True),
        api.put(f"/api/v1/attempts/{attempt.id}/answers/{qid}", json={"choices": choice}).get_data(as_text=True),
        api.get("/api/v1/me").get_data(as_text=True),
    ]
    started = json.loads(bodies[1])["attempt"]
    assert started["id"] == attempt.id and len(started["questions"]) == 20

    for body in bodies:
        assert not json_keys(json.loads(body)) & ANSWER_KEYS, body
    for text in pages + bodies:
        for explanation in explanations:
            assert explanation not in text
        for marker in ("✓", "✗", "正确答案", "is-answer", "correct", "explanation"):
            assert marker not in text, marker
