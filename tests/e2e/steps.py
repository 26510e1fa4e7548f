"""What a citizen or an organizer does in the browser, as small steps the e2e tests share.

The pages are driven by the stable ids listed in quiz/web/citizen/routes.py,
quiz/templates/display/board.html and quiz/templates/admin/*.html.
"""
import itertools
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails in CI) before any step runs
    expect = None

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "citizen-pass-123"
ADMIN_PHONE = "13800000000"
ADMIN_PASSWORD = "admin-e2e-pass-2021"
PHONE = (390, 844)
SMALL_PHONE = (360, 740)
DISPLAY = (1920, 1080)
DESKTOP = (1280, 800)
_phones = itertools.count(1)
RESULT_URL = re.compile(r"/result/\d+$")
QUIZ_URL = re.compile(r"/quiz$")
HANDED_IN_OR_ASKED = re.compile(r"/result/\d+$|/quiz/\d+/hand-in$")  # the confirmation page without JavaScript


def new_phone() -> str:
    """A fresh citizen phone number per call (each citizen may start one attempt a day)."""
    return f"139{os.getpid() % 10000:04d}{next(_phones):04d}"


# ---- checks on any page ---------------------------------------------------------------

def assert_no_sideways_scroll(page) -> None:
    content, window = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert content <= window, f"{page.url} scrolls sideways: content {content} px wide, window {window} px"


def press(locator, touch: bool) -> None:
    """A finger's tap on a phone, a mouse click elsewhere."""
    if touch:
        locator.tap()
    else:
        locator.click()


# ---- accounts ---------------------------------------------------------------------------

def register(page, base_url: str, phone: str, name: str, district: str = "wujin", touch: bool = True) -> None:
    """Fill the registration form the way a citizen does; registering logs the citizen in."""
    page.goto(base_url + "/register")
    assert_no_sideways_scroll(page)
    form = page.locator("#register-form")
    form.locator("[name=phone]").fill(phone)
    form.locator("[name=name]").fill(name)
    form.locator("[name=district]").select_option(district)
    form.locator("[name=group]").select_option(index=1)
    form.locator("[name=unit]").fill("常州市天宁区青龙街道社区")
    form.locator("[name=password]").fill(PASSWORD)
    press(form.locator("label[for=consent]"), touch)
    expect(form.locator("[name=consent]")).to_be_checked()
    press(page.locator("#register-submit"), touch)
    expect(page.locator("#nav-me")).to_be_visible()


def log_out(page, touch: bool = True) -> None:
    press(page.locator("#logout"), touch)
    expect(page.locator("#nav-login")).to_be_visible()


def log_in(page, base_url: str, phone: str, password: str = PASSWORD, touch: bool = True, path: str = "/login") -> None:
    page.goto(base_url + path)
    assert_no_sideways_scroll(page)
    form = page.locator("#login-form")
    form.locator("[name=phone]").fill(phone)
    form.locator("[name=password]").fill(password)
    press(page.locator("#login-submit"), touch)
    expect(page.locator("#login-form")).to_have_count(0)


# ---- the quiz ---------------------------------------------------------------------------

def start_quiz(page, base_url: str, touch: bool = True) -> None:
    if not re.search(r"/$", page.url):
        page.goto(base_url + "/")
    press(page.locator("#start-quiz"), touch)
    page.wait_for_url(QUIZ_URL)
    expect(page.locator("#quiz-form")).to_be_visible()


def questions(page) -> list[dict]:
    """[{qid, type}] in the order shown."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('fieldset.question')).map(f => ({
        qid: f.getAttribute('data-qid'),
        type: f.getAttribute('data-type') || (f.querySelector('input[type=checkbox]') ? 'multiple' : 'single')}))""")


def option_labels(page, question: dict, right: dict | None) -> list:
    """The option labels to tap: the right ones when the bank's answer is given, else the first (two)."""
    fieldset = page.locator(f'fieldset.question[data-qid="{question["qid"]}"]')
    labels = fieldset.locator("label")
    if right is None:
        return [labels.nth(0), labels.nth(1)] if question["type"] == "multiple" else [labels.nth(0)]
    if question["type"] == "judge":
        return [fieldset.locator(f'label:has(input[value="{right["answer"][0]}"])')]
    texts = [t.strip() for t in fieldset.locator("label .option-text").all_inner_texts()]
    chosen = [labels.nth(i) for i, text in enumerate(texts) if text in right["answer"]]
    assert len(chosen) == len(right["answer"]), f"{question['qid']}: options {texts}, answer {right['answer']}"
    return chosen


def answer(page, question: dict, touch: bool = True, right: dict | None = None) -> None:
    """Tap the option labels (the tap target) and see each input checked."""
    for label in option_labels(page, question, right):
        press(label, touch)
        expect(label.locator("input")).to_be_checked()


def wait_saved(page, qid: str) -> None:
    """quiz.js says 已保存 next to the question once the server has the answer."""
    expect(page.locator(f'fieldset.question[data-qid="{qid}"] .save-state')).to_have_text("已保存")


def checked_answers(page) -> dict:
    """{input name: [checked values]} as the page shows them."""
    return page.evaluate("""() => {
        const out = {};
        document.querySelectorAll('#quiz-form input[name^="q-"]:checked').forEach(i => {
            (out[i.name] = out[i.name] || []).push(i.value); });
        Object.values(out).forEach(v => v.sort());
        return out; }""")


def countdown_seconds(page) -> int:
    """The remaining time the citizen reads (mm:ss) in seconds."""
    minutes, seconds = page.locator("#countdown").inner_text().strip().split(":")
    return int(minutes) * 60 + int(seconds)


def seconds_to_deadline(page) -> float:
    """Seconds from now to the server's deadline written in the page (data-deadline)."""
    stamp = page.locator("#countdown").get_attribute("data-deadline")
    deadline = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=UTC)
    return (deadline - datetime.now(UTC)).total_seconds()


def hand_in(page, touch: bool = True) -> None:
    """交卷 and confirm it: quiz.js asks in a dialog; without JavaScript a confirmation page does."""
    page.once("dialog", lambda dialog: dialog.accept())
    press(page.locator("#submit-quiz"), touch)
    page.wait_for_url(HANDED_IN_OR_ASKED)
    if page.url.endswith("/hand-in"):
        press(page.locator("#confirm-submit"), touch)
        page.wait_for_url(RESULT_URL)


def result_figures(page) -> dict:
    return {key: page.locator(f"#{key}").inner_text().strip()
            for key in ("score", "time-used", "rank-city", "rank-district")}


# ---- the v1 API, to put other citizens' results on the board -----------------------------

def api_perfect_attempt(server, phone: str, name: str, district: str, bank_answers: dict) -> dict:
    """Register, start, answer every question right and hand in through /api/v1; returns the result."""
    server.register_citizen(phone, name=name, district=district)
    token = server.token(phone)
    status, body = server.api("POST", "/v1/attempts", {}, token)
    assert status == 201, body
    attempt = body["attempt"]
    for question in attempt["questions"]:
        right = bank_answers[question["id"]]
        if question["type"] == "judge":
            choices = right["answer"]
        else:
            choices = sorted(o["key"] for o in question["options"] if o["text"] in right["answer"])
        status, reply = server.api("PUT", f"/v1/attempts/{attempt['id']}/answers/{question['id']}",
                                   {"choices": choices}, token)
        assert status == 200, reply
    status, body = server.api("POST", f"/v1/attempts/{attempt['id']}/submit", {}, token)
    assert status == 200, body
    return body["result"]


# ---- artifacts ---------------------------------------------------------------------------

def screenshot(page, name: str, full_page: bool = False, readme: str | None = None) -> Path:
    """Save tests/e2e/artifacts/<name>.png (CSS pixels, so a 390-wide phone gives a 390-wide PNG).

    readme: the file name under docs/screenshots/ to copy it to, when that file is missing
    or QUIZ_E2E_SCREENSHOTS=1 asks to refresh the README's pictures.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, scale="css")
    if readme:
        target = SCREENSHOTS / readme
        if os.environ.get("QUIZ_E2E_SCREENSHOTS") or not target.exists():
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return path


AXE_RUN = """async () => {
    const r = await axe.run(document, {resultTypes: ['violations']});
    return {url: r.url, passes: r.passes.length, incomplete: r.incomplete.length,
            violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                tags: v.tags, nodes: v.nodes.map(n => ({target: n.target, html: n.html,
                                                        failureSummary: n.failureSummary}))}))};
}"""
IMPACTS = ("critical", "serious", "moderate", "minor")


def run_axe(page, axe_source: str, name: str) -> dict:
    """Run axe-core on the page; write artifacts/axe-<name>.json; return {impact: count} and the violations."""
    page.add_script_tag(content=axe_source)
    results = page.evaluate(AXE_RUN)
    counts = {impact: sum(len(v["nodes"]) for v in results["violations"] if v["impact"] == impact)
              for impact in IMPACTS}
    by_impact = {impact: [v for v in results["violations"] if v["impact"] == impact] for impact in IMPACTS}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(
        json.dumps({"page": name, "url": results["url"], "counts": counts, "passes": results["passes"],
                    "incomplete": results["incomplete"], "violations_by_impact": by_impact},
                   ensure_ascii=False, indent=2), encoding="utf-8")
    rules = ", ".join(f"{v['id']}({v['impact']})" for v in results["violations"]) or "none"
    print(f"axe {name}: " + " ".join(f"{k}={n}" for k, n in counts.items()) + f"; rules: {rules}")
    return {"counts": counts, "violations": results["violations"]}
