"""A clock per question (`question_time_s`) against gunicorn: through the API, and through
the pages in Chromium with JavaScript off (the server says which question is current and
how long it has left). A late answer is refused; a refresh keeps the clock."""
import time

import pytest

from e2e.conftest import SAMPLE_CONTEST, _server
from e2e.steps import PHONE, expect, log_in, new_phone, questions, start_quiz

pytestmark = pytest.mark.e2e

QUESTION_TIME_S = 6  # short, so that a question's time runs out within the test
GRACE_S = 2


@pytest.fixture(scope="session")
def clock_server(tmp_path_factory, prepared_instance, server_pool):
    """A server whose contest shows each question alone for QUESTION_TIME_S seconds."""
    folder = tmp_path_factory.mktemp("e2e-clock-contest")
    contest_file = folder / "clock.contest.yaml"
    contest_file.write_text(SAMPLE_CONTEST.read_text(encoding="utf-8") + f"\nquestion_time_s: {QUESTION_TIME_S}\n",
                            encoding="utf-8")
    srv = _server(tmp_path_factory, prepared_instance, server_pool, "e2e-clock-server", contest_file)
    yield srv
    srv.terminate()


def countdown_text_seconds(page) -> int:
    minutes, seconds = page.locator("#countdown").inner_text().split(":")
    return int(minutes) * 60 + int(seconds)


def test_per_question_contest_through_the_api_and_the_pages_without_javascript(clock_server, contexts):
    # The API: one question at a time, with the server's remaining seconds.
    api_phone = new_phone()
    clock_server.register_citizen(api_phone, "周逐题")
    token = clock_server.token(api_phone)
    status, body = clock_server.api("POST", "/v1/attempts", token=token)
    assert status == 201, body
    attempt = body["attempt"]
    first = attempt["questions"][0]
    assert len(attempt["questions"]) == 1 and attempt["position"] == 1
    assert QUESTION_TIME_S - 1 <= attempt["question_seconds_left"] <= QUESTION_TIME_S
    answer_path = f"/v1/attempts/{attempt['id']}/answers/{first['id']}"
    choice = ["true"] if first["type"] == "judge" else [first["options"][0]["key"]]
    assert clock_server.api("PUT", answer_path, {"choices": choice}, token=token)[0] == 200
    api_started = time.monotonic()

    # The pages with JavaScript off: one question, the time left rendered by the server.
    context = contexts(PHONE, java_script_enabled=False)
    page = context.new_page()
    phone = new_phone()
    clock_server.register_citizen(phone, "吴计时")
    log_in(page, clock_server.base_url, phone)
    start_quiz(page, clock_server.base_url)
    page_started = time.monotonic()
    shown = questions(page)
    assert len(shown) == 1
    expect(page.locator("#question-position")).to_have_text("1")
    expect(page.locator("#next-question")).to_be_visible()
    before = countdown_text_seconds(page)
    assert QUESTION_TIME_S - 1 <= before <= QUESTION_TIME_S

    time.sleep(2)
    page.reload()  # a refresh keeps the clock: the same question, less time
    assert questions(page) == shown
    expect(page.locator("#question-position")).to_have_text("1")
    assert countdown_text_seconds(page) <= before - 1

    # Past the question's time and the grace: the answer is refused and the next question is current.
    time.sleep(max(0.0, QUESTION_TIME_S + GRACE_S + 0.5 - (time.monotonic() - api_started)))
    status, refused = clock_server.api("PUT", answer_path, {"choices": choice}, token=token)
    assert status == 409 and refused["error"]["code"] == "deadline_passed", refused
    status, body = clock_server.api("GET", f"/v1/attempts/{attempt['id']}", token=token)
    assert body["attempt"]["position"] == 2 and body["attempt"]["questions"][0]["id"] != first["id"]
    status, body = clock_server.api("POST", f"/v1/attempts/{attempt['id']}/next", {"position": 2}, token=token)
    assert status == 200 and body["attempt"]["position"] == 3

    time.sleep(max(0.0, QUESTION_TIME_S + GRACE_S + 0.5 - (time.monotonic() - page_started)))
    page.locator(f'fieldset.question[data-qid="{shown[0]["qid"]}"] label').first.click()
    page.locator("#next-question").click()
    expect(page.locator(".flash-error")).to_contain_text("答题时间已到")
    expect(page.locator("#question-position")).to_have_text("2")
    assert questions(page)[0]["qid"] != shown[0]["qid"]
    assert not contexts.errors.items, contexts.errors.items


def test_with_javascript_the_countdown_moves_on_by_itself(clock_server, contexts):
    page = contexts(PHONE).new_page()
    phone = new_phone()
    clock_server.register_citizen(phone, "郑自动")
    log_in(page, clock_server.base_url, phone)
    start_quiz(page, clock_server.base_url)
    first = questions(page)
    page.locator(f'fieldset.question[data-qid="{first[0]["qid"]}"] label').first.tap()
    expect(page.locator(".save-state")).to_have_text("已保存")
    # At zero quiz.js sends 下一题 and the server serves question 2 with a fresh clock.
    expect(page.locator("#question-position")).to_have_text("2", timeout=(QUESTION_TIME_S + 4) * 1000)
    assert questions(page)[0]["qid"] != first[0]["qid"]
    assert countdown_text_seconds(page) >= QUESTION_TIME_S - 2
    assert not contexts.errors.items, contexts.errors.items
