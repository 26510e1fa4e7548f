"""Two contests open at once on one gunicorn server, in Chromium: a citizen takes the youth
contest under /c/<slug>/, which leaves the other contest's daily attempt untouched, and each
contest's display (/display?contest=SLUG) shows its own board."""
import pytest

from e2e.conftest import SAMPLE_CONTEST, _server
from e2e.steps import PHONE, answer, expect, hand_in, new_phone, questions, register, start_quiz

pytestmark = pytest.mark.e2e

YOUTH = "cz-2021-youth"


@pytest.fixture(scope="session")
def two_contest_server(tmp_path_factory, prepared_instance, server_pool):
    """The sample contest and a youth contest, both open today."""
    folder = tmp_path_factory.mktemp("e2e-two-contests")
    contest_file = folder / "youth.contest.yaml"
    text = SAMPLE_CONTEST.read_text(encoding="utf-8")
    text = text.replace("contest: cz-2021-3rd", f"contest: {YOUTH}").replace(
        "title: 常州市第三届公民科学素质网络大赛", "title: 常州市青少年科学素质网络大赛")
    assert YOUTH in text and "青少年" in text
    contest_file.write_text(text, encoding="utf-8")
    srv = _server(tmp_path_factory, prepared_instance, server_pool, "e2e-two-contests-server", contest_file)
    yield srv
    srv.terminate()


def test_two_contests_open_at_once_keep_their_limits_boards_and_displays(two_contest_server, contexts):
    base = two_contest_server.base_url
    page = contexts(size=PHONE).new_page()
    register(page, base + f"/c/{YOUTH}", new_phone(), "钱学森")
    assert f"/c/{YOUTH}/" in page.url
    expect(page.locator("h1")).to_contain_text("青少年")

    start_quiz(page, base + f"/c/{YOUTH}")
    assert f"/c/{YOUTH}/quiz" in page.url
    first = questions(page)[0]
    answer(page, first)
    hand_in(page)
    assert f"/c/{YOUTH}/result/" in page.url

    # The youth contest's one attempt of the day is spent; the other contest still offers one.
    page.goto(base + f"/c/{YOUTH}/")
    expect(page.locator("#start-quiz")).to_have_count(0)
    page.goto(base + "/c/cz-2021-3rd/")
    expect(page.locator("#start-quiz")).to_be_visible()
    expect(page.locator("#contest-list")).to_contain_text("常州市青少年科学素质网络大赛")

    screen = contexts(size=(1920, 1080), phone=False).new_page()
    screen.goto(base + f"/display?contest={YOUTH}")
    expect(screen.locator("h1")).to_contain_text("青少年")
    expect(screen.locator("table.top")).to_contain_text("钱*")
    screen.goto(base + "/display?contest=cz-2021-3rd")
    expect(screen.locator("h1")).to_contain_text("第三届")
    expect(screen.locator("table.top")).not_to_contain_text("钱*")
