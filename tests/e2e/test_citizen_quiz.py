"""A citizen's whole way through the contest on a phone, in a real browser."""
import re
import time

import pytest

from e2e.steps import (
    DESKTOP,
    PHONE,
    SMALL_PHONE,
    answer,
    assert_no_sideways_scroll,
    checked_answers,
    countdown_seconds,
    expect,
    hand_in,
    log_in,
    log_out,
    new_phone,
    questions,
    register,
    result_figures,
    screenshot,
    seconds_to_deadline,
    start_quiz,
    wait_saved,
)

pytestmark = pytest.mark.e2e

# The countdown and the server's deadline may differ by the page's load time and a tick.
COUNTDOWN_TOLERANCE_S = 4
RUN_BEFORE_RELOAD_S = 8


@pytest.mark.parametrize("size", [PHONE, SMALL_PHONE], ids=["390x844", "360x740"])
def test_citizen_registers_answers_every_question_by_tapping_and_sees_the_result(
        server, contexts, bank_answers, size):
    context = contexts(size)
    page = context.new_page()
    label = f"{size[0]}x{size[1]}"
    readme = label == "390x844"
    all_right = readme  # one phone answers everything right, the other taps the first options
    phone = new_phone()

    page.goto(server.base_url + "/")
    assert_no_sideways_scroll(page)
    expect(page.locator("#login-to-start")).to_be_visible()
    screenshot(page, f"phone-{label}-landing")

    register(page, server.base_url, phone, "陈晓华")
    log_out(page)
    log_in(page, server.base_url, phone)
    page.goto(server.base_url + "/")
    assert_no_sideways_scroll(page)

    start_quiz(page, server.base_url)
    assert_no_sideways_scroll(page)
    shown = questions(page)
    assert len(shown) == 20
    assert countdown_seconds(page) > 590
    screenshot(page, f"phone-{label}-quiz")
    for question in shown:
        answer(page, question, right=bank_answers[question["qid"]] if all_right else None)
    for question in shown:
        wait_saved(page, question["qid"])
    expect(page.locator("#answered-count")).to_have_text("20")
    assert_no_sideways_scroll(page)
    screenshot(page, f"phone-{label}-quiz-answered", full_page=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, f"phone-{label}-quiz-answered-top", readme="phone-quiz.png" if readme else None)

    hand_in(page)
    assert_no_sideways_scroll(page)
    figures = result_figures(page)
    if all_right:
        assert figures["score"].startswith("100 ")
        expect(page.locator("#review .review-item.correct")).to_have_count(20)
    assert re.fullmatch(r"\d+ / 100 分", figures["score"]), figures
    assert re.fullmatch(r"\d+:\d\d", figures["time-used"]), figures  # quiz.figures.time_used_text
    assert re.fullmatch(r"第 \d+ 名", figures["rank-city"]), figures
    assert re.fullmatch(r"第 \d+ 名", figures["rank-district"]), figures
    expect(page.locator("#review .review-item")).to_have_count(20)
    expect(page.locator("#review .review-item .explanation").first).to_be_visible()
    expect(page.locator("#auto-submitted")).to_have_count(0)
    screenshot(page, f"phone-{label}-result", readme="phone-result.png" if readme else None)
    screenshot(page, f"phone-{label}-result-full", full_page=True)

    page.goto(server.base_url + "/")
    expect(page.locator("#start-blocked")).to_be_visible()  # one attempt a day
    assert_no_sideways_scroll(page)
    assert contexts.errors.items == []


def test_countdown_running_out_hands_in_the_saved_answers(short_server, contexts, bank_answers):
    """15-second contest: the citizen answers two questions right and waits; the page hands in by itself."""
    phone = new_phone()
    short_server.register_citizen(phone, name="周立新")
    page = contexts(PHONE).new_page()
    log_in(page, short_server.base_url, phone)
    start_quiz(page, short_server.base_url)
    shown = questions(page)
    for question in shown[:2]:
        answer(page, question, right=bank_answers[question["qid"]])
        wait_saved(page, question["qid"])
    screenshot(page, "countdown-before")

    page.wait_for_url(re.compile(r"/result/\d+$"), timeout=30_000)
    expect(page.locator("#auto-submitted")).to_be_visible()
    expect(page.locator("#auto-submitted")).to_contain_text("自动交卷")
    assert result_figures(page)["score"].startswith("10 "), "the two saved right answers count, 5 points each"
    expect(page.locator("#review .review-item.correct")).to_have_count(2)
    expect(page.locator("#review .review-item")).to_have_count(len(shown))
    screenshot(page, "countdown-auto-submitted")
    assert contexts.errors.items == []


def test_reload_and_second_device_keep_the_answers_and_the_deadline(server, contexts):
    phone = new_phone()
    server.register_citizen(phone, name="吴建国", district="tianning")
    first = contexts(PHONE).new_page()
    log_in(first, server.base_url, phone)
    start_quiz(first, server.base_url)
    started = time.monotonic()
    shown = questions(first)
    for question in shown[:5]:
        answer(first, question)
        wait_saved(first, question["qid"])
    chosen = checked_answers(first)
    assert len(chosen) == 5

    # Let the clock run well past the tolerance, so that a countdown restarted by the reload would show.
    first.wait_for_timeout(max(0.0, RUN_BEFORE_RELOAD_S - (time.monotonic() - started)) * 1000)
    first.reload()
    elapsed = time.monotonic() - started
    assert checked_answers(first) == chosen
    expect(first.locator("#answered-count")).to_have_text("5")
    assert countdown_seconds(first) <= 600 - elapsed + COUNTDOWN_TOLERANCE_S
    assert abs(countdown_seconds(first) - seconds_to_deadline(first)) <= COUNTDOWN_TOLERANCE_S

    second = contexts(SMALL_PHONE).new_page()  # another phone, logged in as the same citizen
    log_in(second, server.base_url, phone)
    second.goto(server.base_url + "/")
    second.locator("#resume-quiz").tap()
    second.wait_for_url(re.compile(r"/quiz$"))
    assert checked_answers(second) == chosen
    assert second.locator("#countdown").get_attribute("data-deadline") == \
        first.locator("#countdown").get_attribute("data-deadline")
    assert abs(countdown_seconds(second) - countdown_seconds(first)) <= COUNTDOWN_TOLERANCE_S
    assert abs(countdown_seconds(second) - seconds_to_deadline(second)) <= COUNTDOWN_TOLERANCE_S
    screenshot(second, "second-device-quiz")

    # An answer given on the second phone is on the first one after a reload.
    answer(second, shown[5])
    wait_saved(second, shown[5]["qid"])
    first.reload()
    assert checked_answers(first) == checked_answers(second)
    assert len(checked_answers(first)) == 6

    hand_in(second)
    expect(second.locator("#review .review-item")).to_have_count(len(shown))
    assert contexts.errors.items == []


def test_the_whole_flow_works_without_javascript(server, contexts):
    context = contexts(PHONE, java_script_enabled=False)
    page = context.new_page()
    phone = new_phone()
    register(page, server.base_url, phone, "郑秀英", district="liyang")
    start_quiz(page, server.base_url)
    shown = questions(page)
    for question in shown[:10]:
        answer(page, question)
    page.locator("#save-answers").tap()
    page.wait_for_url(re.compile(r"/quiz$"))
    expect(page.locator(".flash-info")).to_contain_text("答案已保存")
    assert len(checked_answers(page)) == 10
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    for question in shown[10:]:
        answer(page, question)
    assert_no_sideways_scroll(page)

    hand_in(page)
    figures = result_figures(page)
    assert re.fullmatch(r"\d+ / 100 分", figures["score"]), figures
    assert re.fullmatch(r"第 \d+ 名", figures["rank-city"]), figures
    expect(page.locator("#review .review-item")).to_have_count(len(shown))
    expect(page.locator("#review .review-item .is-chosen")).to_have_count(
        sum(2 if q["type"] == "multiple" else 1 for q in shown))
    screenshot(page, "no-js-result")


def test_large_text_mode_keeps_the_quiz_usable_on_a_small_phone(server, contexts):
    phone = new_phone()
    server.register_citizen(phone, name="孙桂兰", district="jintan")
    page = contexts(SMALL_PHONE).new_page()
    log_in(page, server.base_url, phone)
    page.goto(server.base_url + "/")
    normal = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.locator("#text-size-toggle").tap()
    expect(page.locator("html")).to_have_class(re.compile(r"\bbig-text\b"))
    large = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert large >= normal * 1.2  # 18 px -> 22 px
    assert_no_sideways_scroll(page)

    start_quiz(page, server.base_url)
    expect(page.locator("html")).to_have_class(re.compile(r"\bbig-text\b"))  # the choice is remembered
    assert_no_sideways_scroll(page)
    _assert_options_are_big_enough(page)
    screenshot(page, "large-text-quiz")
    shown = questions(page)
    for question in shown:
        answer(page, question)
    assert_no_sideways_scroll(page)
    hand_in(page)
    assert_no_sideways_scroll(page)
    expect(page.locator("#review .review-item")).to_have_count(len(shown))
    screenshot(page, "large-text-result")
    assert contexts.errors.items == []


def test_200_percent_zoom_keeps_the_quiz_usable(server, contexts):
    """A 1280x800 screen zoomed to 200% lays the page out in 640x400 CSS pixels."""
    phone = new_phone()
    server.register_citizen(phone, name="钱伟", district="xinbei")
    width, height = DESKTOP
    page = contexts((width // 2, height // 2), phone=False, device_scale_factor=2).new_page()
    log_in(page, server.base_url, phone, touch=False)
    start_quiz(page, server.base_url, touch=False)
    assert_no_sideways_scroll(page)
    _assert_options_are_big_enough(page)
    shown = questions(page)
    for question in shown:
        answer(page, question, touch=False)
    hand_in(page, touch=False)
    assert_no_sideways_scroll(page)
    expect(page.locator("#review .review-item")).to_have_count(len(shown))
    screenshot(page, "zoom-200-result")
    assert contexts.errors.items == []


def _assert_options_are_big_enough(page) -> None:
    """Every option is a tap target at least 44 CSS px high and inside the window."""
    boxes = page.evaluate("""() => Array.from(document.querySelectorAll('fieldset.question label')).map(l => {
        const r = l.getBoundingClientRect(); return [r.left, r.right, r.height]; })""")
    width = page.evaluate("() => window.innerWidth")
    assert boxes
    for left, right, height in boxes:
        assert height >= 44 and left >= 0 and right <= width, (left, right, height, width)
