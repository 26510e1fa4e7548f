"""The city's big-screen board follows the results live."""
import pytest

from e2e.steps import DISPLAY, api_perfect_attempt, expect, new_phone, screenshot

pytestmark = pytest.mark.e2e

LIVE_WITHIN_MS = 5_000  # the board must show a hand-in within five seconds


def test_city_display_shows_a_new_participant_without_a_reload(server, contexts, bank_answers):
    page = contexts(DISPLAY, phone=False).new_page()
    page.goto(server.base_url + "/display")
    expect(page.locator("#top-table")).to_be_attached()
    before = page.locator("#participants").inner_text().strip()
    before = int(before) if before.isdigit() else 0
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloads

    name = "欧阳振华"  # shown masked as 欧**华
    result = api_perfect_attempt(server, new_phone(), name, "zhonglou", bank_answers)
    assert result["score"] == result["max_score"] == 100

    expect(page.locator("#top-table tr.entry", has_text="欧**华")).to_have_count(1, timeout=LIVE_WITHIN_MS)
    expect(page.locator("#participants")).not_to_have_text(str(before), timeout=LIVE_WITHIN_MS)
    assert int(page.locator("#participants").inner_text()) >= before + 1
    row = page.locator("#district-table tr", has_text="钟楼区")
    expect(row).to_be_visible()
    assert page.evaluate("() => window.__sameDocument === true"), "the board reloaded instead of updating"
    expect(page.locator("#board-notice")).to_be_hidden()
    screenshot(page, "display-city", readme="display.png")
    assert contexts.errors.items == []
