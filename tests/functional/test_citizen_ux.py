"""What citizens tripped over on the quiz pages (issue 19), through the test client without
JavaScript: the result page marks wrong choices and filters them, 交卷 asks first, Back
after hand-in shows the result, /me counts attempts left, a 429 says how long to wait."""
import re

import pytest
from conftest import SAMPLE_CONTEST
from functional import test_security_limits
from functional.test_citizen_pages import Browser
from sqlalchemy import select

from quiz.contest import attempts as attempt_rules
from quiz.contest.definition import import_contest
from quiz.extensions import db
from quiz.models import Attempt


class Phone(Browser):
    """test_citizen_pages' phone without JavaScript, which also keeps the page a POST answered."""

    def post(self, path, data=None, page=None):
        response = super().post(path, data, page)
        self.html = response.get_data(as_text=True)
        return response


limited = test_security_limits.limited  # the fixture: another app with rate limits on


@pytest.fixture
def phone(app):
    return Phone(app)


def latest_attempt(user_phone) -> Attempt:
    db.session.expire_all()
    return db.session.scalar(select(Attempt).where(Attempt.user.has(phone=user_phone))
                             .order_by(Attempt.id.desc()).limit(1))


def right_answers(attempt: Attempt) -> dict:
    return {f"q-{item.question.qid}": attempt_rules.to_display(item, item.question.answer) for item in attempt.items}


def items_in(html: str) -> list[str]:
    return re.findall(r'<li class="review-item (correct|wrong)"', html)


def hand_in_all_right_but_one(phone, user_phone) -> tuple[Attempt, int]:
    """Start, answer every question (one single-choice one wrong), 交卷 and confirm; returns
    the attempt and the place (from 1) of the wrong question."""
    phone.register(user_phone)
    phone.post("/quiz/start", page="/")
    phone.get("/quiz")
    attempt = latest_attempt(user_phone)
    answers = right_answers(attempt)
    wrong_at, item = next((n, i) for n, i in enumerate(attempt.items, 1) if i.question.type == "single")
    name = f"q-{item.question.qid}"
    answers[name] = [next(key for key in ("A", "B", "C", "D") if [key] != answers[name])]
    response = phone.post(f"/quiz/{attempt.id}/answers", {**answers, "action": "confirm"})
    assert response.headers["Location"] == f"/quiz/{attempt.id}/hand-in"
    page = phone.follow(response).get_data(as_text=True)
    assert "已作答 <strong>20</strong> / 20 题" in page and "未作答" not in page
    assert "交卷后本次答题结束" in page and 'id="confirm-submit"' in page
    assert latest_attempt(user_phone).status == "active"  # only asked, not handed in
    response = phone.post(f"/quiz/{attempt.id}/answers", {"action": "submit", "confirm": "1"})
    assert response.headers["Location"] == f"/result/{attempt.id}"
    return latest_attempt(user_phone), wrong_at


# ---- the result page ----------------------------------------------------------------

def test_the_result_marks_the_wrong_choice_folds_explanations_and_filters_the_wrong_ones(phone, open_contest):
    attempt, wrong_at = hand_in_all_right_but_one(phone, "13900001901")
    assert attempt.score == 95  # the confirmation (no answer fields) kept every saved answer

    page = phone.get(f"/result/{attempt.id}").get_data(as_text=True)
    assert page.count("✗ 您的选择（错误）") == 1
    right_choices = sum(len(attempt_rules.to_display(i, i.question.answer)) for n, i in enumerate(attempt.items, 1)
                        if n != wrong_at)
    assert page.count("✓ 您的选择（正确）") == page.count('class="is-answer is-chosen"') == right_choices
    assert page.count('class="is-chosen is-wrong-choice"') == 1
    wrong_item = re.search(rf'<li class="review-item wrong" id="review-{wrong_at}">(.*?)</li>\s*</ul>', page, re.S)
    assert wrong_item and "✗ 您的选择（错误）" in wrong_item.group(1) and "正确答案" in wrong_item.group(1)
    assert page.count('<details class="explanation"><summary>查看解析</summary>') == 20
    assert "只看错题（1）" in page and f'href="/result/{attempt.id}?wrong=1#review-title"' in page

    only_wrong = phone.get(f"/result/{attempt.id}?wrong=1").get_data(as_text=True)
    assert items_in(only_wrong) == ["wrong"]
    assert f"第 {wrong_at} 题" in only_wrong  # numbered as on the paper
    assert 'id="review-wrong" class="button secondary current"' in only_wrong
    assert 'id="practice-again"' not in page  # 再练一次 is for practice


def test_a_practice_result_offers_to_practise_again(phone, open_practice_contest):
    phone.register("13900001902")
    phone.post("/practice/start", page="/practice")
    practice = latest_attempt("13900001902")
    response = phone.post(f"/quiz/{practice.id}/answers", {**right_answers(practice), "action": "submit"})
    page = phone.follow(response).get_data(as_text=True)
    assert "练习结果" in page and 'id="practice-again"' in page and "再练一次" in page
    assert "只看错题（0）" in page
    assert "全部正确" in phone.get(f"/result/{practice.id}?wrong=1").get_data(as_text=True)

    response = phone.post("/practice/start", page=f"/result/{practice.id}")
    assert response.headers["Location"] == "/practice"
    again = latest_attempt("13900001902")
    assert again.id != practice.id and again.practice and again.status == "active"
    assert 'id="quiz-form"' in phone.get("/practice").get_data(as_text=True)


# ---- 交卷 asks first; Back after hand-in -------------------------------------------------

def test_hand_in_asks_first_and_cancelling_keeps_the_attempt_running(phone, open_contest):
    phone.register("13900001903")
    phone.post("/quiz/start", page="/")
    paper = phone.get("/quiz").get_data(as_text=True)
    assert 'name="action" value="confirm" id="submit-quiz" class="button primary">交卷' in paper
    assert 'id="save-answers" class="button secondary">保存答案' in paper
    attempt = latest_attempt("13900001903")
    first = attempt.items[0]
    answer = {f"q-{first.question.qid}": attempt_rules.to_display(first, first.question.answer)}
    page = phone.follow(phone.post(f"/quiz/{attempt.id}/answers", {**answer, "action": "confirm"}))
    html = page.get_data(as_text=True)
    assert "已作答 <strong>1</strong> / 20 题，还有 <strong>19</strong> 题未作答" in html
    assert "用掉本次答题机会" in html
    assert 'href="/quiz"' in html and "返回继续答题" in html
    # Going back to the paper: the answer was saved by the 交卷 press, the attempt still runs.
    back = phone.get("/quiz").get_data(as_text=True)
    assert 'id="quiz-form"' in back
    assert f'name="q-{first.question.qid}" value="{answer[f"q-{first.question.qid}"][0]}" checked' in back
    assert latest_attempt("13900001903").status == "active"


def test_with_a_clock_per_question_hand_in_asks_first_too(phone, sample_bank):
    import_contest(db.session, SAMPLE_CONTEST.read_bytes() + b"\nquestion_time_s: 20\n", shift_to_now=True)
    phone.register("13900001911")
    phone.post("/quiz/start", page="/")
    page = phone.get("/quiz").get_data(as_text=True)
    assert page.count('class="question"') == 1 and 'id="next-question"' in page
    attempt = latest_attempt("13900001911")
    first = attempt.items[0]
    answer = {f"q-{first.question.qid}": attempt_rules.to_display(first, first.question.answer)}
    response = phone.post(f"/quiz/{attempt.id}/answers", {**answer, "position": "0", "action": "confirm"})
    html = phone.follow(response).get_data(as_text=True)
    assert "已作答 <strong>1</strong> / 20 题" in html and '<input type="hidden" name="position" value="0">' in html
    response = phone.post(f"/quiz/{attempt.id}/answers", {"action": "submit", "confirm": "1", "position": "0"})
    assert response.headers["Location"] == f"/result/{attempt.id}"
    done = latest_attempt("13900001911")
    assert done.finished and done.correct_count == 1  # the answer saved by the 交卷 press was kept


def test_back_or_reload_after_hand_in_shows_that_result(phone, open_contest):
    attempt, _ = hand_in_all_right_but_one(phone, "13900001904")
    for page in ("/quiz", f"/quiz/{attempt.id}/hand-in"):
        response = phone.get(page)
        assert response.status_code == 302 and response.headers["Location"] == f"/result/{attempt.id}", page
    assert "您当前没有进行中的答题" not in phone.follow(phone.get("/quiz")).get_data(as_text=True)
    # A re-sent 交卷 (the browser's "resubmit the form?") lands there too.
    response = phone.post(f"/quiz/{attempt.id}/answers", {"action": "submit", "confirm": "1"})
    assert response.headers["Location"] == f"/result/{attempt.id}"


# ---- /me: attempts left today and in total ----------------------------------------------------

def test_me_says_how_many_attempts_are_left_today_and_in_total(phone, open_contest):
    phone.register("13900001905")
    left = re.compile(r'<p id="attempts-left">(.*?)</p>', re.S)
    before = left.search(phone.get("/me").get_data(as_text=True)).group(1)
    assert before == "今天还可以答题 1 次；本届竞赛还可以答题 7 次。"
    assert phone.post("/quiz/start", page="/").headers["Location"] == "/quiz"
    after = left.search(phone.get("/me").get_data(as_text=True)).group(1)
    assert after == "今天的答题次数已用完；本届竞赛还可以答题 6 次。"
    assert "今天还可以答题 0 次" not in phone.html


# ---- form errors ---------------------------------------------------------------------------

def test_the_duplicate_phone_message_links_to_log_in(phone, open_contest, citizens):
    citizens.make(phone="13900001906")
    page = phone.register("13900001906").get_data(as_text=True)
    assert 'id="phone-error"' in page and "已注册" in page
    assert re.search(r'<p class="field-link" id="phone-taken-login">[^<]*<a id="phone-taken-login-link" href="/login">',
                     page)
    assert 'id="phone-taken-login"' not in phone.register("12345").get_data(as_text=True)


# ---- 429: how long to wait, and the typed values kept --------------------------------------



def test_a_limited_login_says_how_long_to_wait_and_keeps_the_phone(limited, citizens):
    citizen = citizens.make(phone="13900001907")
    client = limited(LOGIN_FAILURE_LIMIT="2 per 5 minutes").test_client()
    form = {"phone": citizen.phone, "password": "wrong-password-1", "remember": "y"}
    for _ in range(2):
        assert client.post("/login", data=form).status_code == 200
    response = client.post("/login", data=form)
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 300
    page = response.get_data(as_text=True)
    message = re.search(r'<p class="flash flash-error" id="rate-limited" role="alert">([^<]*)</p>', page).group(1)
    assert re.fullmatch(r"操作太频繁，请 (\d+ 秒|[1-5] 分钟)后再试。您填写的内容已保留，密码需重新输入。", message), message
    assert 'id="login-form"' in page
    assert f'value="{citizen.phone}"' in page
    assert "wrong-password-1" not in page
    assert re.search(r'<input[^>]*checked[^>]*name="remember"|<input[^>]*name="remember"[^>]*checked', page)


def test_a_limited_registration_keeps_what_was_typed(limited, open_contest):
    client = limited(REGISTER_LIMIT="1 per hour").test_client()
    first = {"phone": "13900001908", "name": "王淦昌", "district": "wujin", "password": "password123", "consent": "y"}
    assert client.post("/register", data=first).status_code == 302
    client.post("/logout")
    typed = {"phone": "13900001909", "name": "钱三强", "district": "liyang", "unit": "溧阳市第一中学",
             "password": "secret-pass-99", "consent": "y"}
    response = client.post("/register", data=typed)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert 'id="rate-limited"' in page and "分钟后再试" in page
    assert 'id="register-form"' in page
    for value in ("13900001909", "钱三强", "溧阳市第一中学"):
        assert f'value="{value}"' in page, value
    assert re.search(r'<option selected value="liyang">|<option value="liyang" selected>', page)
    assert "secret-pass-99" not in page
    assert db.session.scalar(select(Attempt)) is None


def test_a_limited_page_view_says_how_long_to_wait(limited, open_contest):
    client = limited(CERTIFICATE_LOOKUP_LIMIT="1 per minute").test_client()
    assert client.get("/certificates/NOPE-0000").status_code == 404
    response = client.get("/certificates/NOPE-0000")
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 60
    assert re.search(r'<p id="retry-after" role="status">请 \d+ 秒后再试。</p>', page) or \
        '<p id="retry-after" role="status">请 1 分钟后再试。</p>' in page
    assert "操作太频繁" in page


def test_a_limited_code_request_answers_json_with_the_wait(limited, open_contest):
    client = limited(REGISTER_LIMIT="1 per hour").test_client()
    client.post("/code", data={"purpose": "register", "phone": "13900001910"})
    response = client.post("/code", data={"purpose": "register", "phone": "13900001910"})
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited" and re.fullmatch(r"操作太频繁，请 \d+ (秒|分钟)后再试。", error["message"])
    assert 0 < int(response.headers["Retry-After"]) <= 3600
