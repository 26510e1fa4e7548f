"""Contest groups (issue 17): the contest file's `groups`, registration that picks one,
an attempt that keeps its group, a board per group (API and display) that a rebuild from
SQL gives back, a group's own paper rules, and the group in the standings and exports."""
import re
from datetime import timedelta

import pytest
from conftest import DURING, SAMPLE_CONTEST, finish_attempt
from sqlalchemy import select

from quiz import exports, leaderboard
from quiz.accounts import register_citizen
from quiz.bank.validator import BankInvalid
from quiz.clock import utcnow
from quiz.contest import attempts
from quiz.contest.definition import import_contest, validate_contest
from quiz.extensions import db
from quiz.models import Question, User
from quiz.standings import final_standings
from tests.functional.test_citizen_pages import Browser

GROUPS = """
groups:
  - {code: youth, name: 青少年}
  - code: seniors
    name: 老年人
    paper:
      - {category: health, count: 15}
"""
DISTRICTS = {"liyang", "jintan", "wujin", "xinbei", "tianning", "zhonglou", "jingkai"}


def contest_file(groups: str = GROUPS) -> bytes:
    return SAMPLE_CONTEST.read_bytes() + groups.encode()


@pytest.fixture
def groups_contest(app, sample_bank):
    """The sample contest, open now, with a group of its own paper (seniors) and one without."""
    return import_contest(db.session, contest_file(), shift_to_now=True)[0]


def member(contest, group, phone, name, district="wujin"):
    return register_citizen(db.session, phone, name, district, "password123", group, None, DISTRICTS, utcnow(),
                            contest=contest)


def board(client, query=""):
    """(total, [(masked name, score)]) of a board; limit 7 is never cached, so it is fresh."""
    body = client.get(f"/api/v1/leaderboard?limit=7&{query.lstrip('?')}").get_json()
    return body["total"], [(e["name"], e["score"]) for e in body["entries"]]


# ---- the contest file ------------------------------------------------------------------

def test_groups_are_stored_with_the_contest_and_listed_by_the_api(client, groups_contest):
    assert groups_contest.groups == [{"code": "youth", "name": "青少年"},
                                     {"code": "seniors", "name": "老年人", "paper": [{"category": "health", "count": 15}]}]
    assert client.get("/api/v1/contest").get_json()["groups"] == [{"code": "youth", "name": "青少年"},
                                                                  {"code": "seniors", "name": "老年人"}]


# The words each message must hold, whatever the console's language (quiz/i18n.py).
@pytest.mark.parametrize(("groups", "words", "bad_line"), [
    ("\ngroups:\n  - {code: youth, name: 青少年}\n  - {code: youth, name: 又一个}\n",
     ("youth",), "  - {code: youth, name: 又一个}"),
    ("\ngroups:\n  - {code: Youth!, name: 青少年}\n", ("code",), "  - {code: Youth!, name: 青少年}"),
    ("\ngroups:\n  - {code: youth}\n", ("code", "name"), "  - {code: youth}"),
    ("\ngroups:\n  - {code: youth, name: 青少年, board: true}\n", ("code",), "  - {code: youth, name: 青少年, board: true}"),
    ("\ngroups:\n  - code: seniors\n    name: 老年人\n    paper:\n      - {category: health, count: 0}\n",
     ("seniors", "count"), "      - {category: health, count: 0}"),
    ("\ngroups:\n  - code: seniors\n    name: 老年人\n    paper:\n      - {type: essay, count: 2}\n",
     ("seniors", "essay"), "      - {type: essay, count: 2}"),
    ("\ngroups:\n  - code: seniors\n    name: 老年人\n    paper:\n      - {category: health, count: 25}\n",
     ("seniors", "questions_per_attempt"), "    paper:"),
    ("\ngroups: []\n", ("groups",), "groups: []"),
])
def test_bad_groups_are_refused_with_their_line(groups, words, bad_line):
    raw = contest_file(groups)
    with pytest.raises(BankInvalid) as caught:
        validate_contest(raw)
    [problem] = caught.value.problems
    assert all(word in problem.message for word in words), problem.message
    assert raw.decode().splitlines()[problem.line - 1] == bad_line


def test_a_group_paper_the_bank_cannot_fill_is_refused_with_its_line(app, sample_bank):
    raw = contest_file("\ngroups:\n  - code: seniors\n    name: 老年人\n    paper:\n      - {category: astronomy, count: 3}\n")
    with pytest.raises(BankInvalid) as caught:
        import_contest(db.session, raw)
    [problem] = caught.value.problems
    assert "seniors" in problem.message and "astronomy" in problem.message and "0" in problem.message
    assert raw.decode().splitlines()[problem.line - 1] == "      - {category: astronomy, count: 3}"


# ---- registration ----------------------------------------------------------------------

def register_json(phone="13900000001", **fields):
    return {"phone": phone, "name": "张三丰", "district": "wujin", "password": "password123", **fields}


@pytest.mark.parametrize("fields", [{}, {"group": ""}, {"group": "adults"}, {"group": "青少年"}, {"group": ["youth"]}])
def test_api_registration_refuses_a_missing_or_unknown_group(client, groups_contest, fields):
    response = client.post("/api/v1/auth/register", json=register_json(**fields))
    assert response.status_code == 422
    assert response.get_json()["error"] | {"message": ""} == {"code": "invalid", "field": "group", "message": ""}
    assert db.session.scalar(select(User).where(User.phone == "13900000001")) is None


def test_api_registration_keeps_the_group_code(client, groups_contest):
    assert client.post("/api/v1/auth/register", json=register_json(group="seniors")).status_code == 201
    assert db.session.scalar(select(User.group).where(User.phone == "13900000001")) == "seniors"


def test_the_register_page_offers_the_contest_groups(app, groups_contest):
    browser = Browser(app)
    browser.get("/register")
    assert "参赛组别" in browser.html
    assert '<option value="youth">青少年</option>' in browser.html and '<option value="seniors">老年人</option>' in browser.html
    assert "领导干部和公务员" not in browser.html  # the fixed 人群 list is for contests without groups
    page = browser.register(group="adults").get_data(as_text=True)
    assert 'id="group-error"' in page and "请从列表中选择参赛组别。" in page
    assert "请选择参赛组别。" in browser.register().get_data(as_text=True)
    assert browser.register(group="youth").status_code == 302
    assert db.session.scalar(select(User.group).where(User.phone == "13900000001")) == "youth"
    assert "· 青少年</p>" in browser.get("/me").get_data(as_text=True)  # the group's name, not its code


def test_without_groups_the_group_stays_optional(client, open_contest):
    assert client.post("/api/v1/auth/register", json=register_json()).status_code == 201
    assert client.post("/api/v1/auth/register", json=register_json("13900000002", group="老年人")).status_code == 201
    assert client.get("/api/v1/contest").get_json()["groups"] == []
    response = client.get("/api/v1/leaderboard?group=youth")
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "group"


# ---- papers and boards -----------------------------------------------------------------

def test_a_group_paper_is_drawn_with_its_own_rules(groups_contest):
    senior = member(groups_contest, "seniors", "13900000001", "张三丰")
    young = member(groups_contest, "youth", "13900000002", "李四")
    for day in range(3):  # each draw is random: the rules hold for every one
        for citizen in (senior, young):
            now = utcnow() + timedelta(days=day)
            attempt, _ = attempts.start_attempt(db.session, citizen, groups_contest, now)
            categories = [db.session.get(Question, item.question_id).category for item in attempt.items]
            if citizen is senior:
                assert attempt.group == "seniors" and categories.count("health") >= 15
            else:  # the contest's paper: 4 achievements, 2 spirit first
                assert attempt.group == "youth" and categories.count("achievements") >= 4
                assert categories.count("spirit") >= 2
            attempts.submit_attempt(db.session, citizen, attempt.id, now + timedelta(seconds=30))


@pytest.fixture
def two_groups(groups_contest):
    """张三丰 (youth) 100 points, 李四 (seniors) 80, 王小明 (youth) 50."""
    people = [member(groups_contest, "youth", "13900000001", "张三丰"),
              member(groups_contest, "seniors", "13900000002", "李四", "xinbei"),
              member(groups_contest, "youth", "13900000003", "王小明")]
    for citizen, right, seconds in zip(people, (20, 16, 10), (90, 120, 60), strict=True):
        finish_attempt(citizen, groups_contest, right, seconds)
    return people


def test_each_group_has_its_board_and_everyone_is_on_the_city_board(client, two_groups):
    assert board(client) == (3, [("张*丰", 100), ("李*", 80), ("王*明", 50)])
    assert board(client, "?group=youth") == (2, [("张*丰", 100), ("王*明", 50)])
    assert board(client, "?group=seniors") == (1, [("李*", 80)])
    body = client.get("/api/v1/leaderboard?group=seniors").get_json()
    assert body == {"total": 1, "entries": [{"rank": 1, "name": "李*", "district": "xinbei", "score": 80,
                                              "time_used_ms": 120_000}], "frozen": False, "frozen_at": None}


@pytest.mark.parametrize("query", ["?group=adults", "?group=youth&district=wujin"])
def test_an_unknown_group_or_a_group_with_a_district_is_refused(client, two_groups, query):
    response = client.get(f"/api/v1/leaderboard{query}")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid" and response.get_json()["error"]["field"] == "group"


def test_a_result_stays_on_the_board_of_the_group_it_was_taken_in(client, two_groups, groups_contest):
    li = two_groups[1]
    li.group = "youth"  # a correction after the attempt: the attempt keeps its group
    db.session.commit()
    leaderboard.rebuild(db.session, groups_contest)
    assert board(client, "?group=seniors") == (1, [("李*", 80)])
    assert board(client, "?group=youth") == (2, [("张*丰", 100), ("王*明", 50)])
    # The next attempt is in the new group: 李四 is then on both boards, each with its own best.
    finish_attempt(li, groups_contest, 6, 30, now=utcnow() + timedelta(days=1))
    assert board(client, "?group=youth") == (3, [("张*丰", 100), ("王*明", 50), ("李*", 30)])
    assert board(client, "?group=seniors") == (1, [("李*", 80)])
    assert board(client)[1][1] == ("李*", 80)


def group_keys(redis, contest) -> dict:
    """Every group board and group members hash, and the group counts, as Redis holds them."""
    found = {}
    for key in sorted(redis.scan_iter(match=f"quiz:{{{contest.slug}}}:g*")):
        found[key] = redis.zrange(key, 0, -1, withscores=True) if redis.type(key) == b"zset" else redis.hgetall(key)
    agg = redis.hgetall(f"quiz:{{{contest.slug}}}:agg")
    found["agg"] = {k: v for k, v in agg.items() if k.startswith(b"g:")}
    return found


def test_a_rebuild_from_sql_gives_the_same_group_boards(client, redis, groups_contest):
    people = [member(groups_contest, "youth", f"1390000000{n}", name) for n, name in enumerate(("张三丰", "李四", "王五"), 1)]
    people.append(member(groups_contest, "seniors", "13900000009", "赵六"))
    tomorrow = utcnow() + timedelta(days=1)
    # Results told in every order: a better one later, a worse one later, equal scores.
    for citizen, day_one, day_two in zip(people, (10, 20, 15, 12), (20, 5, 15, 18), strict=True):
        finish_attempt(citizen, groups_contest, day_one, 100)
        finish_attempt(citizen, groups_contest, day_two, 80, now=tomorrow)
    told = group_keys(redis, groups_contest)
    assert told["agg"] == {b"g:youth:attempts": b"6", b"g:youth:participants": b"3",
                           b"g:seniors:attempts": b"2", b"g:seniors:participants": b"1"}
    before = {q: board(client, q) for q in ("?group=youth", "?group=seniors", "")}
    assert before["?group=youth"] == (3, [("张*丰", 100), ("李*", 100), ("王*", 75)])
    assert before["?group=seniors"] == (1, [("赵*", 90)])
    leaderboard.clear(groups_contest)
    leaderboard.rebuild(db.session, groups_contest)
    assert group_keys(redis, groups_contest) == told
    assert {q: board(client, q) for q in before} == before


def test_frozen_group_boards_keep_the_standings_at_the_freeze(app, sample_bank):
    raw = contest_file().replace(b"attempts_per_day: 1", b"attempts_per_day: 3") + b"freeze_at: 2021-05-23T12:00:00+08:00\n"
    contest = import_contest(db.session, raw)[0]
    zhang, li = member(contest, "youth", "13900000001", "张三丰"), member(contest, "youth", "13900000002", "李四")
    finish_attempt(zhang, contest, 10, 60, now=DURING)  # 10:00, before the 12:00 freeze
    after = contest.freeze_at + timedelta(hours=1)
    finish_attempt(li, contest, 20, 60, now=after)
    finish_attempt(zhang, contest, 20, 60, now=after)

    def shown(as_of):
        return [(e["name"], e["score"]) for e in leaderboard.top(contest, as_of=as_of, group="youth")["entries"]]

    assert shown(contest.freeze_at) == [("张*丰", 50)]
    assert shown(None) == [("张*丰", 100), ("李*", 100)]
    leaderboard.rebuild(db.session, contest)  # rebuilds the frozen boards too
    assert shown(contest.freeze_at) == [("张*丰", 50)]
    assert leaderboard.totals(contest, as_of=contest.freeze_at, group="youth")["participants"] == 1


def test_disqualified_citizens_leave_their_group_board(client, two_groups, groups_contest):
    from quiz import disqualification

    disqualification.disqualify(db.session, groups_contest, two_groups[0], "代答", None)
    assert board(client, "?group=youth") == (1, [("王*明", 50)])
    assert board(client) == (2, [("李*", 80), ("王*明", 50)])


# ---- displays --------------------------------------------------------------------------

def test_a_group_display_shows_the_group_board(client, two_groups):
    response = client.get("/display?group=youth")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r"<title>[^<]*青少年排行榜</title>", html) and "青少年 · 组别排行榜" in html
    assert "张*丰" in html and "王*明" in html and "李*" not in html
    assert re.search(r'id="participants"[^>]*>2<', html)
    assert 'data-data-url="/display/data?group=youth"' in html and 'data-events-url="/display/events?group=youth"' in html
    snap = client.get("/display/data?group=seniors").get_json()
    assert snap["group"] == {"code": "seniors", "name": "老年人"} and [e["name"] for e in snap["top"]] == ["李*"]
    assert snap["participants"] == 1 and snap["attempts"] == 1
    for path in ("/display?group=adults", "/display/data?group=adults", "/display/events?group=adults",
                 "/display/wujin?group=youth"):
        assert client.get(path).status_code == 404, path


def test_the_group_stream_sends_the_group_snapshot(app, client, two_groups):
    from tests.functional.test_display import events

    app.config.update(DISPLAY_HEARTBEAT_S=0.1, DISPLAY_STREAM_S=0.5)
    response = client.get("/display/events?group=seniors", buffered=False)
    kind, first = next(events(response.response))
    assert kind == "snapshot" and first["group"]["code"] == "seniors" and [e["name"] for e in first["top"]] == ["李*"]
    response.close()


# ---- standings and exports -------------------------------------------------------------

def test_standings_and_exports_carry_the_attempt_group(two_groups, groups_contest):
    two_groups[1].group = "youth"  # changed later: the standings keep the group of the attempt
    db.session.commit()
    assert [(s.name, s.group) for s in final_standings(db.session, groups_contest)] == [
        ("张三丰", "youth"), ("李四", "seniors"), ("王小明", "youth")]
    header, *rows = list(exports.standing_rows(db.session, groups_contest))
    assert [row[header.index("group")] for row in rows] == ["youth", "seniors", "youth"]
    header, *rows = list(exports.result_rows(db.session, groups_contest))
    assert [(row[1], row[header.index("人群")]) for row in rows] == [("张三丰", "青少年"), ("李四", "老年人"), ("王小明", "青少年")]


def test_the_console_filters_results_by_the_attempt_group(client, two_groups):
    from admin_console import make_organizer, sign_in

    from tests.functional.test_admin_results import listed

    sign_in(client, make_organizer("city"))
    page = client.get("/admin/results").get_data(as_text=True)
    assert '<option value="youth">青少年</option>' in page and "领导干部和公务员" not in page
    assert sorted(listed(client.get("/admin/results?group=youth").get_data(as_text=True))) == ["张三丰", "王小明"]
    assert listed(client.get("/admin/results?group=seniors").get_data(as_text=True)) == ["李四"]
