"""axe-core on the pages citizens and big screens show: no serious or critical violations.

The app's CSP (script-src 'self') would block the injected axe script, so these
contexts bypass CSP; the other e2e tests run with it and fail on any CSP error.
Full results: tests/e2e/artifacts/axe-<page>.json.
"""
import pytest

from e2e.steps import (
    DISPLAY,
    PHONE,
    answer,
    expect,
    hand_in,
    new_phone,
    questions,
    register,
    run_axe,
    start_quiz,
)

pytestmark = pytest.mark.e2e

BLOCKING = ("serious", "critical")


def test_citizen_and_display_pages_have_no_serious_accessibility_violations(server, contexts, axe_source):
    results = {}
    page = contexts(PHONE, bypass_csp=True).new_page()

    page.goto(server.base_url + "/")
    results["landing"] = run_axe(page, axe_source, "landing")
    page.goto(server.base_url + "/login")
    results["login"] = run_axe(page, axe_source, "login")
    page.goto(server.base_url + "/register")
    results["register"] = run_axe(page, axe_source, "register")

    page.goto(server.base_url + "/register")
    page.locator("#register-submit").tap()  # empty form: the page with every field's error
    expect(page.locator(".field-error").first).to_be_visible()
    results["register-errors"] = run_axe(page, axe_source, "register-errors")

    register(page, server.base_url, new_phone(), "黄丽萍")
    start_quiz(page, server.base_url)
    shown = questions(page)
    for question in shown[:3]:
        answer(page, question)
    results["quiz"] = run_axe(page, axe_source, "quiz")
    hand_in(page)
    results["result"] = run_axe(page, axe_source, "result")

    board = contexts(DISPLAY, phone=False, bypass_csp=True).new_page()
    board.goto(server.base_url + "/display")
    expect(board.locator("#top-table tr.entry").first).to_be_visible()
    results["display"] = run_axe(board, axe_source, "display")

    blocking = {name: [f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']}"
                       for v in result["violations"] if v["impact"] in BLOCKING]
                for name, result in results.items()}
    assert {name: found for name, found in blocking.items() if found} == {}
