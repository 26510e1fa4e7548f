"""The freeze (封榜, issue 16): from freeze_at the public boards, figures, displays and API show
the standings as of freeze_at; citizens see their own new results and their rank at the
freeze; the console stays live; `contest unfreeze` (or the console button) reveals all."""
import re
from datetime import UTC, timedelta

import pytest

from quiz import freeze, leaderboard, units
from quiz.accounts import register_citizen
from quiz.clock import iso, utcnow
from quiz.contest import attempts
from quiz.contest.definition import import_contest
from quiz.disqualification import disqualify
from quiz.extensions import db
from quiz.models import Attempt, AuditEntry
from tests.conftest import BANKS, DURING, finish_attempt
from tests.functional.admin_console import csrf_token, make_organizer, page_token, sign_in
from tests.functional.test_citizen_pages import Browser
from tests.functional.test_display import events

DISTRICTS = {"wujin", "xinbei", "tianning"}


def units_contest(shift_to_now: bool, freeze_line: str = ""):
    """tests/banks/units-contest.yaml with 3 attempts a day (an improvement after the freeze)."""
    raw = (BANKS / "units-contest.yaml").read_bytes().replace(b"attempts_per_day: 1", b"attempts_per_day: 3")
    return import_contest(db.session, raw + freeze_line.encode(), shift_to_now=shift_to_now)[0]


def citizen(contest, n: int, district: str, unit: str | None, township: str | None = None):
    return register_citizen(db.session, f"1390000{n:04d}", f"市民{n}号", district, "password123", None, unit,
                            DISTRICTS, DURING, township=township, contest=contest)


def view_of(contest, as_of):
    """Everything public about the boards in one value (what must not move while frozen)."""
    return (leaderboard.top(contest, None, 20, as_of=as_of), leaderboard.top(contest, "wujin", 20, as_of=as_of),
            leaderboard.districts(contest, as_of=as_of), leaderboard.totals(contest, as_of=as_of),
            units.unit_board(db.session, contest, as_of=as_of))


# ---- the rule and the boards, with a clock ----------------------------------------------

def test_the_freeze_rule(app, sample_bank):
    contest = units_contest(False, "freeze_at: 2021-05-23T12:00:00+08:00\n")
    assert contest.freeze_at == DURING + timedelta(hours=2)  # stored as naive UTC
    assert not freeze.is_frozen(contest, DURING) and freeze.frozen_at(contest, DURING) is None
    assert freeze.is_frozen(contest, contest.freeze_at) and freeze.frozen_at(contest, DURING + timedelta(days=9)) == contest.freeze_at
    contest.unfrozen_at = DURING + timedelta(hours=3)
    assert not freeze.is_frozen(contest, DURING + timedelta(hours=4))
    contest.freeze_at = None
    assert not freeze.is_frozen(contest, DURING)


def test_frozen_boards_keep_the_standings_at_freeze_through_rebuilds(app, sample_bank):
    contest = units_contest(False, "freeze_at: 2021-05-23T12:00:00+08:00\n")
    a = citizen(contest, 1, "wujin", "wj-hospital", "hutang")
    b = citizen(contest, 2, "xinbei", "xb-gov", "sanjing")
    c = citizen(contest, 3, "wujin", "wj-school", "niutang")
    finish_attempt(a, contest, right=10, seconds=100, now=DURING)
    finish_attempt(b, contest, right=15, seconds=100, now=DURING)
    finish_attempt(c, contest, right=20, seconds=100, now=DURING)
    after = DURING + timedelta(hours=3)  # an hour after the freeze
    finish_attempt(a, contest, right=20, seconds=50, now=after)  # A improves to the top
    finish_attempt(citizen(contest, 4, "tianning", "tn-community"), contest, right=20, seconds=60, now=after)

    as_of = freeze.frozen_at(contest, after)
    frozen = view_of(contest, as_of)
    top, wujin, districts, totals, unit_rows = frozen
    assert [(e["name"], e["score"]) for e in top["entries"]] == [("市**号", 100), ("市**号", 75), ("市**号", 50)]
    assert [e["score"] for e in wujin["entries"]] == [100, 50]
    assert (totals["participants"], totals["attempts"]) == (3, 3)
    assert totals["updated_at"] == int(contest.freeze_at.replace(tzinfo=UTC).timestamp() * 1000)
    assert {d["code"]: d["attempts"] for d in districts} == {"wujin": 2, "xinbei": 1, "tianning": 0}
    assert {u["code"]: (u["participants"], u["attempts"], u["average_score"]) for u in unit_rows}["wj-hospital"] == (1, 1, 50)
    assert leaderboard.standing(contest, a, as_of) == {"best": {"score": 50, "time_used_ms": 100_000},
                                                       "rank": {"city": 3, "district": 2}}
    # The live boards (the console's, and everyone's after the unfreeze) have everything.
    assert leaderboard.top(contest)["total"] == 4 and leaderboard.totals(contest)["attempts"] == 5
    assert leaderboard.standing(contest, a)["rank"] == {"city": 1, "district": 1}
    assert {u["code"]: u["attempts"] for u in units.unit_board(db.session, contest)}["wj-hospital"] == 2

    leaderboard.rebuild(db.session, contest)  # `leaderboard rebuild` while frozen
    assert view_of(contest, as_of) == frozen
    leaderboard.clear(contest)  # a Redis that restarted empty: the frozen boards come back from SQL
    leaderboard.rebuild(db.session, contest)
    assert view_of(contest, as_of) == frozen

    disqualify(db.session, contest, c, "复核：代答", None)  # reaches the frozen board too
    top_after = leaderboard.top(contest, as_of=as_of)
    assert [e["score"] for e in top_after["entries"]] == [75, 50]
    assert leaderboard.totals(contest, as_of=as_of)["participants"] == 2


# ---- through HTTP, the CLI and the console (the real clock) -------------------------------

def api_attempt(client, phone: str, right: int) -> dict:
    """Log in, take an attempt with `right` correct answers and submit it: the result."""
    token = client.post("/api/v1/auth/token", json={"phone": phone, "password": "password123"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    started = client.post("/api/v1/attempts", headers=headers).get_json()["attempt"]
    attempt = db.session.get(Attempt, started["id"])
    for n, item in enumerate(attempt.items):
        answer = attempts.to_display(item, item.question.answer)
        if n >= right:
            answer = (["true"] if answer == ["false"] else ["false"]) if item.question.type == "judge" \
                else [key for key in "ABCD" if key not in answer][:1]
        client.put(f"/api/v1/attempts/{attempt.id}/answers/{item.question.qid}", json={"choices": answer},
                   headers=headers)
    db.session.rollback()
    return {"result": client.post(f"/api/v1/attempts/{attempt.id}/submit", headers=headers).get_json()["result"],
            "me": client.get("/api/v1/me", headers=headers).get_json()}


PUBLIC = ["/api/v1/leaderboard", "/api/v1/leaderboard?district=wujin", "/api/v1/leaderboard?limit=7",
          "/api/v1/districts", "/api/v1/units", "/api/v1/units?district=wujin", "/display/data",
          "/display/data?district=wujin"]


@pytest.fixture
def frozen_now(app, sample_bank):
    """The units contest open now, three results, then frozen a moment ago."""
    app.config["CONTEST_CACHE_S"] = 0  # see an unfreeze at once (in production: within a second)
    contest = units_contest(True)
    people = [citizen(contest, 1, "wujin", "wj-hospital", "hutang"), citizen(contest, 2, "xinbei", "xb-gov", "sanjing"),
              citizen(contest, 3, "wujin", "wj-school", "niutang")]
    for person, right in zip(people, (10, 15, 20), strict=True):
        finish_attempt(person, contest, right=right, seconds=60)  # finished 5 s ago
    contest.freeze_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    return contest, people


def after_freeze(person, contest, right: int):
    """A result finished now (after the freeze)."""
    return finish_attempt(person, contest, right=right, seconds=30, now=utcnow() - timedelta(seconds=30))


def test_public_boards_do_not_move_after_the_freeze_but_the_citizen_and_console_see_it(app, client, runner, frozen_now):
    contest, (a, b, c) = frozen_now
    before = {path: client.get(path).get_data() for path in PUBLIC}
    board = client.get("/api/v1/leaderboard").get_json()
    assert board["frozen"] is True and board["frozen_at"] == iso(contest.freeze_at)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", board["frozen_at"])
    assert [e["score"] for e in board["entries"]] == [100, 75, 50]
    for path in PUBLIC:
        assert client.get(path).get_json()["frozen"] is True, path
    assert client.get("/api/v1/contest").get_json()["frozen"] is True

    after = api_attempt(app.test_client(), a.phone, right=20)  # A: 50 -> 100, first live
    after_freeze(citizen(contest, 4, "tianning", "tn-community"), contest, right=18)
    # The submit answer and /api/v1/me: the new result, with the rank at the freeze.
    assert after["result"]["score"] == 100 and after["result"]["rank"] == {"city": 3, "district": 2}
    assert after["result"]["frozen"] is True
    assert after["me"]["best"]["score"] == 100 and after["me"]["rank"] == {"city": 3, "district": 2}
    assert after["me"]["frozen"] is True and after["me"]["frozen_at"] == board["frozen_at"]

    leaderboard.drop_cache(contest)  # no cached copy hides a change: read the boards again
    for path in PUBLIC:
        assert client.get(path).get_data() == before[path], path
    page = client.get("/display").get_data(as_text=True)
    assert "已封榜" in re.search(r'<p id="frozen-notice"[^>]*>(.*?)</p>', page).group(1)
    assert re.search(r'id="participants"[^>]*>(\d+)<', page).group(1) == "3"
    assert "已封榜" in client.get("/display/units").get_data(as_text=True)

    # The citizen's own pages: the new result, and the rank at the freeze.
    browser = Browser(app)
    browser.login(a.phone)
    me_page = browser.get("/me").get_data(as_text=True)
    assert "<strong>100 分</strong>" in me_page and "封榜时全市排名：第 3 名" in me_page and 'id="frozen-note"' in me_page
    latest = db.session.query(Attempt).filter_by(user_id=a.id).order_by(Attempt.id.desc()).first()
    result_page = browser.get(f"/result/{latest.id}").get_data(as_text=True)
    assert "封榜时全市排名" in result_page and re.search(r'id="rank-city">第 3 名<', result_page)

    # The console is live, says the board is frozen and offers the unfreeze to city organizers.
    console = app.test_client()
    sign_in(console, make_organizer("city"))
    dashboard = console.get(f"/admin?contest={contest.id}").get_data(as_text=True)
    assert re.search(r'id="participants-total">4<', dashboard) and re.search(r'id="attempts-total">5<', dashboard)
    assert 'id="frozen-notice"' in dashboard and "解封" in dashboard
    district_console = app.test_client()
    sign_in(district_console, make_organizer("district", "wujin"))
    assert "解封" not in district_console.get(f"/admin?contest={contest.id}").get_data(as_text=True)
    assert district_console.post(f"/admin/contests/{contest.id}/unfreeze",
                                 data={"csrf_token": csrf_token(district_console, app)}).status_code in (302, 403)
    assert freeze.is_frozen(db.session.get(type(contest), contest.id), utcnow())

    # `contest unfreeze`: the live standings at once, everywhere public.
    result = runner.invoke(args=["contest", "unfreeze", contest.slug])
    assert result.exit_code == 0 and "解封" in result.output
    live = client.get("/api/v1/leaderboard").get_json()
    assert live["frozen"] is False and live["frozen_at"] is None
    assert [e["score"] for e in live["entries"]] == [100, 100, 90, 75]
    assert client.get("/display/data").get_json()["participants"] == 4
    assert client.get("/api/v1/units?district=wujin").get_json()["units"][0]["attempts"] == 2
    assert 'id="frozen-notice"' not in console.get(f"/admin?contest={contest.id}").get_data(as_text=True)
    assert db.session.query(AuditEntry).filter_by(action="contest.unfreeze").count() == 1
    again = runner.invoke(args=["contest", "unfreeze", contest.slug])
    assert again.exit_code != 0 and "已于" in again.output
    unknown = runner.invoke(args=["contest", "unfreeze", "no-such-contest"])
    assert unknown.exit_code != 0 and "没有竞赛 no-such-contest" in unknown.output


def test_the_console_button_unfreezes(app, client, frozen_now):
    contest, _ = frozen_now
    console = app.test_client()
    sign_in(console, make_organizer("city"))
    dashboard = console.get(f"/admin?contest={contest.id}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="(/admin/contests/\d+/unfreeze)">.*?</form>', dashboard, re.S)
    response = console.post(form.group(1), data={"csrf_token": page_token(form.group(0))})
    assert response.status_code == 302
    assert "已解封" in console.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/api/v1/leaderboard").get_json()["frozen"] is False
    entry = db.session.query(AuditEntry).filter_by(action="contest.unfreeze").one()
    assert entry.actor == "13700000001" and contest.slug in entry.detail


def test_the_stream_sends_no_result_while_frozen_and_the_live_board_on_unfreeze(app, client, frozen_now):
    contest, (a, _b, _c) = frozen_now
    app.config.update(DISPLAY_HEARTBEAT_S=0.05, DISPLAY_STREAM_S=0.6)
    response = client.get("/display/events", buffered=False)
    after_freeze(a, contest, right=20)  # publishes "result" while the stream listens
    received = list(events(response.response))  # ends by itself
    snapshots = [body for kind, body in received if kind == "snapshot"]
    assert len(snapshots) == 1 and snapshots[0]["frozen"] is True and snapshots[0]["participants"] == 3
    assert "已封榜" in snapshots[0]["frozen_notice"]
    assert {kind for kind, _ in received[1:]} == {"comment"}  # heartbeats only

    app.config.update(DISPLAY_STREAM_S=10)
    response = client.get("/display/events", buffered=False)
    stream = events(response.response)
    assert next(stream)[1]["frozen"] is True
    freeze.unfreeze(db.session, db.session.get(type(contest), contest.id), None, utcnow())
    revealed = next(body for kind, body in stream if kind == "snapshot")
    assert revealed["frozen"] is False and revealed["frozen_notice"] is None
    assert revealed["top"][0]["score"] == 100 and revealed["attempts"] == 4
    response.close()


def test_unfreeze_refuses_a_contest_that_is_not_frozen(app, runner, sample_bank):
    contest = units_contest(False)
    with pytest.raises(freeze.NotFrozen, match="没有设置封榜时间"):
        freeze.unfreeze(db.session, contest, None, DURING)
    contest.freeze_at = DURING + timedelta(hours=1)
    db.session.commit()
    with pytest.raises(freeze.NotFrozen, match="尚未封榜"):
        freeze.unfreeze(db.session, contest, None, DURING)
    result = runner.invoke(args=["contest", "unfreeze", contest.slug])  # the real clock: 2021 is long past
    assert result.exit_code == 0
