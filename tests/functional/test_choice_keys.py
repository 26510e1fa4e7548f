"""Any choice that is not a key the question displays is refused with `invalid`, through
every path (API, the page's autosave, the page's form, the domain), and nothing is stored.

Before one SQL rule judged every path, a choice "@" reaching the PostgreSQL statement
was stored as the last option (ascii('@') - 65 = -1), and the Python path took "" and
"AB" as option A (a substring test)."""
import pytest
from functional.test_citizen_pages import Browser, current_attempt
from sqlalchemy import select

from quiz.accounts import Caller
from quiz.clock import utcnow
from quiz.contest import attempts
from quiz.contest.errors import InvalidAnswer
from quiz.extensions import db
from quiz.models import AttemptQuestion

NOT_KEYS = ["@", "", "AB", "a", " A", "A ", "A\n", "Ａ", "１", "I", "[", "A,B", "true", "false", "null"]


def refused_choices(item) -> list[list]:
    """Choice lists that are not displayed keys of this item (plus repeats and, for single, two keys)."""
    beyond = attempts.DISPLAY_KEYS[len(item.option_order)] if len(item.option_order) < 8 else "I"
    cases = [[text] for text in NOT_KEYS if item.question.type != "judge" or text not in ("true", "false")]
    cases += [[beyond], ["A", "A"], ["A", "@"]]
    if item.question.type == "single":
        cases.append(["A", "B"])
    if item.question.type == "judge":
        cases += [["A"], ["true", "false"], ["true", "true"], []]
    return cases


def stored(item_id):
    db.session.expire_all()
    return db.session.scalar(select(AttemptQuestion.choices).where(AttemptQuestion.id == item_id))


@pytest.fixture
def citizen_on_a_quiz(app, open_contest):
    """A citizen whose paper has a question of each type (the sample paper has no row of
    judge questions, so now and then a paper has none: another citizen starts then)."""
    for n in range(20):
        browser = Browser(app)
        browser.register(phone=f"139000000{77 + n}")
        browser.start()
        attempt = current_attempt(f"139000000{77 + n}")
        if {item.question.type for item in attempt.items} == {"single", "multiple", "judge"}:
            return browser, attempt
    raise AssertionError("20 papers without a question of each type")


def one_of_each_type(attempt):
    return [next(item for item in attempt.items if item.question.type == kind) for kind in ("single", "multiple",
                                                                                            "judge")]


def test_the_api_refuses_every_non_key(citizen_on_a_quiz, api):
    _, attempt = citizen_on_a_quiz
    api.login(attempt.user.phone)
    for item in one_of_each_type(attempt):
        for choices in refused_choices(item):
            response = api.put(f"/api/v1/attempts/{attempt.id}/answers/{item.question.qid}", json={"choices": choices})
            assert response.status_code == 422, (item.question.type, choices, response.get_json())
            error = response.get_json()["error"]
            assert (error["code"], error["field"]) == ("invalid", "choices"), (choices, error)
        assert stored(item.id) is None
    for shape in ("A", 1, [1], [None], {"A": True}, None):
        item = attempt.items[0]
        response = api.put(f"/api/v1/attempts/{attempt.id}/answers/{item.question.qid}", json={"choices": shape})
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid", shape


def test_the_pages_autosave_refuses_every_non_key(citizen_on_a_quiz):
    browser, attempt = citizen_on_a_quiz
    browser.get("/quiz")
    for item in one_of_each_type(attempt):
        for choices in refused_choices(item):
            response = browser.client.post(f"/quiz/{attempt.id}/answer", json={"qid": item.question.qid,
                                                                               "choices": choices},
                                           headers={"X-CSRFToken": browser.token})
            assert response.status_code == 422, (choices, response.get_json())
            assert response.get_json()["error"]["code"] == "invalid"
        assert stored(item.id) is None


def test_the_pages_form_refuses_every_non_key_and_saves_nothing_of_that_form(citizen_on_a_quiz):
    browser, attempt = citizen_on_a_quiz
    single, multiple, judge = one_of_each_type(attempt)
    right = attempts.to_display(multiple, multiple.question.answer)
    for item in (single, judge):
        for choices in refused_choices(item):
            if not choices:
                continue  # an empty radio group is "not answered", not a choice
            browser.get("/quiz")
            response = browser.post(f"/quiz/{attempt.id}/answers",
                                    {f"q-{item.question.qid}": choices, f"q-{multiple.question.qid}": right,
                                     "action": "save"})
            assert response.status_code == 302
            browser.follow(response)
            assert "flash-error" in browser.html, choices  # the page says the answer was not taken
            assert stored(item.id) is None and stored(multiple.id) is None, choices  # all or none


def test_the_domain_refuses_every_non_key_for_a_user_and_a_token(citizen_on_a_quiz):
    _, attempt = citizen_on_a_quiz
    owner = attempt.user
    from quiz.accounts import issue_token

    token, _ = issue_token(db.session, owner, utcnow(), 3600)
    for caller in (owner, Caller.bearer(token)):
        for item in one_of_each_type(attempt):
            for choices in refused_choices(item):
                with pytest.raises(InvalidAnswer):
                    attempts.save_answer(db.session, caller, attempt.id, item.question.qid, choices, utcnow())
            assert stored(item.id) is None
