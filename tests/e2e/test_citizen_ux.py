"""What citizens tripped over (issue 19), in a real browser on a 390x844 phone: every tap
target at least 44x44 px, a field error turns its input red, 交卷 asks first."""
import re

import pytest

from e2e.steps import (
    PHONE,
    RESULT_URL,
    answer,
    expect,
    new_phone,
    press,
    questions,
    register,
    screenshot,
    start_quiz,
)

pytestmark = pytest.mark.e2e

MIN_TAP_PX = 44
# What a finger taps: links, buttons, the option and checkbox labels (their inputs are inside),
# the fold of an explanation, and the form fields. Off-screen ones (the skip link) do not count.
TAP_TARGETS = """() => Array.from(document.querySelectorAll(
        'a[href], button, input[type=submit], summary, label.option, label.check, select,'
        + ' input[type=text], input[type=tel], input[type=password]'))
    .filter(el => { const s = getComputedStyle(el), r = el.getBoundingClientRect();
                    return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.right > 0; })
    .map(el => { const r = el.getBoundingClientRect();
                 return {what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "'
                               + (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 16) + '"',
                         width: Math.round(r.width * 10) / 10, height: Math.round(r.height * 10) / 10}; })"""


def assert_tap_targets(page, name: str) -> int:
    targets = page.evaluate(TAP_TARGETS)
    small = [t for t in targets if t["width"] < MIN_TAP_PX or t["height"] < MIN_TAP_PX]
    assert not small, f"{name}: tap targets under {MIN_TAP_PX}x{MIN_TAP_PX} px: {small}"
    return len(targets)


def test_every_tap_target_is_at_least_44_px_on_the_home_login_paper_and_result_pages(server, contexts):
    page = contexts(PHONE).new_page()
    page.goto(server.base_url + "/")
    assert assert_tap_targets(page, "home (logged out)") >= 4
    page.goto(server.base_url + "/login")
    assert assert_tap_targets(page, "login") >= 6
    page.goto(server.base_url + "/register")
    assert_tap_targets(page, "register")

    register(page, server.base_url, new_phone(), "周培源")
    page.goto(server.base_url + "/")
    assert_tap_targets(page, "home (logged in)")
    start_quiz(page, server.base_url)
    shown = questions(page)
    for question in shown:
        answer(page, question)
    assert assert_tap_targets(page, "paper") >= 20 * 2 + 2

    page.once("dialog", lambda dialog: dialog.accept())
    press(page.locator("#submit-quiz"), True)
    page.wait_for_url(RESULT_URL)
    page.locator("#review details.explanation summary").first.tap()
    expect(page.locator("#review details.explanation").first).to_have_attribute("open", "")
    assert assert_tap_targets(page, "result") >= 20 + 4
    page.locator("#review-wrong").tap()
    page.wait_for_url(re.compile(r"\?wrong=1"))
    expect(page.locator("#review .review-item.correct")).to_have_count(0)
    page.goto(server.base_url + "/me")
    assert_tap_targets(page, "me")
    screenshot(page, "ux-result", full_page=True)
    assert contexts.errors.items == []


def test_a_field_error_turns_the_text_input_red_and_a_taken_phone_links_to_log_in(server, contexts):
    page = contexts(PHONE).new_page()
    phone = new_phone()
    server.register_citizen(phone, name="华罗庚")
    page.goto(server.base_url + "/register")
    form = page.locator("#register-form")
    normal = form.locator("[name=name]").evaluate("el => getComputedStyle(el).borderTopColor")
    form.locator("[name=phone]").fill(phone)
    form.locator("[name=name]").fill("华罗庚")
    form.locator("[name=district]").select_option("wujin")
    form.locator("[name=password]").fill("password-e2e-1")
    press(form.locator("label[for=consent]"), True)
    press(page.locator("#register-submit"), True)

    expect(page.locator("#phone-error")).to_contain_text("已注册")
    red = page.locator("#register-form [name=phone]").evaluate("el => getComputedStyle(el).borderTopColor")
    assert red == "rgb(179, 38, 30)" and red != normal, (red, normal)
    assert page.locator("#register-form [name=name]").evaluate("el => getComputedStyle(el).borderTopColor") == normal
    press(page.locator("#phone-taken-login-link"), True)
    page.wait_for_url(re.compile(r"/login$"))
    expect(page.locator("#login-form")).to_be_visible()


def test_hand_in_asks_for_confirmation_even_with_every_question_answered(server, contexts):
    page = contexts(PHONE).new_page()
    register(page, server.base_url, new_phone(), "钱学森")
    start_quiz(page, server.base_url)
    shown = questions(page)
    for question in shown:
        answer(page, question)
    expect(page.locator("#answered-count")).to_have_text(str(len(shown)))

    asked = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    press(page.locator("#submit-quiz"), True)
    page.wait_for_timeout(500)  # a dismissed dialog leaves the paper where it is
    assert len(asked) == 1 and f"全部 {len(shown)} 题都已作答" in asked[0] and "确定交卷" in asked[0], asked
    assert page.url.endswith("/quiz")
    expect(page.locator("#quiz-form")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    press(page.locator("#submit-quiz"), True)
    page.wait_for_url(RESULT_URL)
    result_url = page.url
    expect(page.locator("#review .review-item")).to_have_count(len(shown))

    page.go_back()  # to the paper's address: the server sends the result again
    page.wait_for_url(RESULT_URL)
    assert page.url == result_url
    expect(page.locator(".flash-info")).to_have_count(0)
    assert contexts.errors.items == []
