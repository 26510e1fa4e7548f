"""Units and townships (issue 15): the contest file's lists, registration that picks from
them (API and page), the unit board against a hand-computed example, and the district
ranking formula chosen by district_rank_by."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz import leaderboard, units
from quiz.accounts import AccountError, register_citizen
from quiz.bank.validator import BankInvalid
from quiz.contest.definition import import_contest, validate_contest
from quiz.extensions import db
from quiz.models import ATTEMPT_ACTIVE, ATTEMPT_SUBMITTED, Attempt, User
from tests.conftest import BANKS, DURING
from tests.functional.test_citizen_pages import Browser

UNITS_CONTEST = BANKS / "units-contest.yaml"
DISTRICTS = {"wujin", "xinbei", "tianning"}


def units_contest(shift_to_now=False, extra: str = ""):
    raw = UNITS_CONTEST.read_bytes() + extra.encode()
    return import_contest(db.session, raw, shift_to_now=shift_to_now)[0]


@pytest.fixture
def open_units_contest(app, sample_bank):
    return units_contest(shift_to_now=True)


# ---- the contest file -------------------------------------------------------------

def test_units_and_townships_are_stored_with_the_contest(app, sample_bank):
    contest = units_contest()
    assert [u["code"] for u in contest.units] == ["wj-hospital", "wj-school", "xb-gov", "xb-factory", "tn-community"]
    assert contest.units[0] == {"code": "wj-hospital", "name": "武进人民医院", "district": "wujin", "kind": "医院"}
    assert contest.townships == {"wujin": [{"code": "hutang", "name": "湖塘镇"}, {"code": "niutang", "name": "牛塘镇"}],
                                 "xinbei": [{"code": "sanjing", "name": "三井街道"}]}
    assert contest.district_rank_by == "per_10k"


@pytest.mark.parametrize(("extra", "message"), [
    ("  - {code: wj-hospital, name: 重复, district: wujin, kind: 医院}\n", "单位代码“wj-hospital”重复"),
    ("  - {code: lz-1, name: 溧阳某厂, district: liyang, kind: 企业}\n", "单位“lz-1”所在的区县 'liyang' 不在 districts 中"),
    ("  - {code: wj-bar, name: 酒吧, district: wujin, kind: 酒吧}\n", "单位“wj-bar”的类型是 '酒吧'"),
    ("  - {code: wj-x, name: 某单位, district: wujin}\n", "单位需要 code（代码）、name"),
])
def test_bad_units_are_named_with_their_line(extra, message):
    raw = UNITS_CONTEST.read_text(encoding="utf-8").replace("townships:\n", extra + "townships:\n")
    with pytest.raises(BankInvalid) as caught:
        validate_contest(raw.encode())
    [problem] = caught.value.problems
    assert message in problem.message
    assert raw.splitlines()[problem.line - 1].strip() == extra.strip()


@pytest.mark.parametrize(("extra", "message"), [
    ("  liyang:\n    - {code: x, name: 某镇}\n", "'liyang' 的乡镇（街道），但这个区县不在 districts 中"),
    ("  tianning:\n    - {code: hutang, name: 湖塘镇}\n", "乡镇（街道）代码“hutang”重复"),
    ("district_rank_by: best\n", "district_rank_by 必须是 per_10k, participants, attempts, full_score_rate 之一"),
])
def test_bad_townships_and_rank_by_are_refused(extra, message):
    with pytest.raises(BankInvalid) as caught:
        validate_contest(UNITS_CONTEST.read_bytes() + extra.encode())
    assert [p.message for p in caught.value.problems] == [message]


# ---- registration -------------------------------------------------------------------

def register_json(phone="13900000001", **fields):
    return {"phone": phone, "name": "张三丰", "district": "wujin", "password": "password123", **fields}


def test_api_registration_picks_a_listed_unit_and_township(client, open_units_contest):
    response = client.post("/api/v1/auth/register", json=register_json(unit="wj-hospital", township="hutang"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["user"] | {"id": 0} == {"id": 0, "name_masked": "张*丰", "district": "wujin",
                                                      "unit": "wj-hospital", "township": "hutang"}
    user = db.session.scalar(select(User).where(User.phone == "13900000001"))
    assert (user.unit_code, user.unit, user.township) == ("wj-hospital", "武进人民医院", "hutang")
    # The unit stays optional; a district without townships asks for none.
    response = client.post("/api/v1/auth/register", json=register_json("13900000002", district="tianning"))
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(("fields", "field"), [
    ({"unit": "市一院", "township": "hutang"}, "unit"),  # free text
    ({"unit": "wj-nowhere", "township": "hutang"}, "unit"),
    ({"unit": "wj-hospital"}, "township"),  # wujin lists townships: one is required
    ({"unit": "wj-hospital", "township": "sanjing"}, "township"),  # xinbei's
    ({"unit": "wj-hospital", "township": "湖塘镇"}, "township"),
    ({"district": "tianning", "township": "hutang"}, "township"),  # tianning lists none
])
def test_api_registration_refuses_what_is_not_listed(client, open_units_contest, fields, field):
    response = client.post("/api/v1/auth/register", json=register_json(**fields))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field)
    assert db.session.scalar(select(User).where(User.phone == "13900000001")) is None


def test_without_a_list_the_unit_stays_free_text(client, open_contest):
    response = client.post("/api/v1/auth/register", json=register_json(unit="常州市第一人民医院"))
    assert response.status_code == 201, response.get_json()
    user = db.session.scalar(select(User).where(User.phone == "13900000001"))
    assert (user.unit_code, user.unit, user.township) == (None, "常州市第一人民医院", None)
    response = client.post("/api/v1/auth/register", json=register_json("13900000002", township="hutang"))
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "township"


def test_register_page_offers_the_lists_and_refuses_free_text(app, open_units_contest):
    browser = Browser(app)
    browser.get("/register")
    assert re.search(r'<select[^>]*data-unit-filter[^>]*name="unit"|<select[^>]*name="unit"[^>]*data-unit-filter', browser.html)
    assert "unit-filter.js" in browser.html  # optional search box; the select works without it
    assert '<optgroup label="武进区">' in browser.html and '<option value="wj-hospital">武进人民医院</option>' in browser.html
    assert 'name="township"' in browser.html and '<option value="hutang">湖塘镇</option>' in browser.html
    response = browser.register(unit="市一院", township="hutang")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="unit-error"' in page and "工作单位或学校（选填）：请从列表中选择工作单位或学校。" in page
    response = browser.register(unit="wj-school", township="sanjing")
    assert "所在镇（街道）：请从列表中选择所在镇（街道）。" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.phone == "13900000001")) is None
    response = browser.register(unit="wj-school", township="niutang")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.phone == "13900000001"))
    assert (user.unit_code, user.unit, user.township) == ("wj-school", "武进高级中学", "niutang")


def test_register_page_without_lists_keeps_the_text_field(app, open_contest):
    browser = Browser(app)
    browser.get("/register")
    assert '<input' in browser.html and 'id="unit"' in browser.html and 'name="township"' not in browser.html


# ---- the unit board: a hand-computed example of 12 citizens --------------------------

# (name, district, unit code, township, [best-to-worst is not assumed: the scores of finished attempts])
PEOPLE = [
    ("A", "wujin", "wj-hospital", "hutang", [100, 80]),
    ("B", "wujin", "wj-hospital", "hutang", [60]),
    ("C", "wujin", "wj-hospital", "niutang", [100]),
    ("D", "wujin", "wj-hospital", "niutang", [90, 70, 50]),
    ("E", "wujin", "wj-school", "hutang", [40]),
    ("F", "wujin", "wj-school", "hutang", [100, 100]),
    ("G", "xinbei", "xb-gov", "sanjing", [70]),
    ("H", "xinbei", "xb-gov", "sanjing", [85, 95, 60]),
    ("I", "xinbei", "xb-gov", "sanjing", [55]),
    ("J", "xinbei", "xb-factory", "sanjing", [100]),
    ("K", "xinbei", "xb-factory", "sanjing", [20, 30, 40, 10, 35]),
    ("M", "tianning", None, None, [100]),
]


def add_attempt(contest, user, day: int, score: int, practice=False, status=ATTEMPT_SUBMITTED):
    started = contest.starts_at + timedelta(days=day, hours=1)
    db.session.add(Attempt(
        user_id=user.id, contest_id=contest.id, practice=practice, status=status, day=f"2021-05-{22 + day}",
        started_at=started, deadline=started + timedelta(seconds=600),
        finished_at=None if status == ATTEMPT_ACTIVE else started + timedelta(seconds=300),
        score=None if status == ATTEMPT_ACTIVE else score, max_score=100, correct_count=score // 5,
        question_count=20, time_used_ms=None if status == ATTEMPT_ACTIVE else 300_000))


@pytest.fixture
def twelve(app, sample_bank):
    """The units contest with the 12 citizens of PEOPLE, and what must not count: a staff
    account's full score, a practice attempt and an attempt still running."""
    contest = units_contest()
    people = {}
    for n, (name, district, unit, township, scores) in enumerate(PEOPLE):
        user = register_citizen(db.session, f"1390000{n:04d}", f"市民{name}", district, "password123", None, unit,
                                DISTRICTS, DURING, township=township, contest=contest)
        people[name] = user
        for day, score in enumerate(scores):
            add_attempt(contest, user, day, score)
    staff = register_citizen(db.session, "13800000001", "职员", "wujin", "password123", None, "wj-hospital",
                             DISTRICTS, DURING, township="hutang", contest=contest)
    staff.staff = True
    add_attempt(contest, staff, 0, 100)
    add_attempt(contest, people["G"], 3, 100, practice=True)
    add_attempt(contest, people["E"], 5, 0, status=ATTEMPT_ACTIVE)
    db.session.commit()
    leaderboard.rebuild(db.session, contest)
    return contest


def test_unit_board_matches_the_hand_computed_figures(twelve):
    assert units.unit_board(db.session, twelve) == [
        {"code": "wj-hospital", "name": "武进人民医院", "district": "wujin", "participants": 4, "attempts": 7,
         "average_score": 87.5, "full_score_rate": 0.5},  # (100 + 60 + 100 + 90) / 4; A and C full
        {"code": "xb-gov", "name": "新北区人民政府", "district": "xinbei", "participants": 3, "attempts": 5,
         "average_score": 73.33, "full_score_rate": 0},  # (70 + 95 + 55) / 3
        {"code": "wj-school", "name": "武进高级中学", "district": "wujin", "participants": 2, "attempts": 3,
         "average_score": 70, "full_score_rate": 0.5},  # (40 + 100) / 2; the running attempt is not counted
        {"code": "xb-factory", "name": "新北电子厂", "district": "xinbei", "participants": 2, "attempts": 6,
         "average_score": 70, "full_score_rate": 0.5},  # same participants as wj-school: by code
        {"code": "tn-community", "name": "天宁红梅社区", "district": "tianning", "participants": 0, "attempts": 0,
         "average_score": 0, "full_score_rate": 0},
    ]


def test_unit_board_api_by_district(client, twelve):
    body = client.get("/api/v1/units?district=wujin").get_json()
    assert [(u["code"], u["participants"], u["attempts"]) for u in body["units"]] == [
        ("wj-hospital", 4, 7), ("wj-school", 2, 3)]
    assert set(body["units"][0]) == {"code", "name", "district", "participants", "attempts", "average_score",
                                     "full_score_rate"}
    assert len(client.get("/api/v1/units").get_json()["units"]) == 5
    response = client.get("/api/v1/units?district=nowhere")
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "district"


def test_unit_display(client, twelve):
    page = client.get("/display/units?district=xinbei").get_data(as_text=True)
    assert "新北区 · 单位参与情况" in page
    assert page.index("新北区人民政府") < page.index("新北电子厂") and "武进人民医院" not in page
    assert "<td>新北电子厂</td><td>新北区</td><td class=\"num\">2</td><td class=\"num\">6</td>" \
           "<td class=\"num\">70.0</td><td class=\"num\">50.0%</td>" in page
    assert client.get("/display/units?district=nowhere").status_code == 404


# ---- district_rank_by -------------------------------------------------------------------

@pytest.mark.parametrize(("rank_by", "order"), [
    ("per_10k", ["xinbei", "wujin", "tianning"]),  # 5 / 80 > 6 / 139 > 1 / 69 (per 10,000)
    ("participants", ["wujin", "xinbei", "tianning"]),  # 6 > 5 > 1
    ("attempts", ["xinbei", "wujin", "tianning"]),  # 11 > 10 > 1
    ("full_score_rate", ["tianning", "wujin", "xinbei"]),  # 1/1 > 3/6 > 1/5
])
def test_districts_are_ranked_by_the_chosen_formula(client, twelve, rank_by, order):
    if rank_by != "per_10k":
        contest = units_contest(extra=f"district_rank_by: {rank_by}\n")
        assert contest.district_rank_by == rank_by
    body = client.get("/api/v1/districts").get_json()
    assert body["rank_by"] == rank_by
    assert [d["code"] for d in body["districts"]] == order
    if rank_by == "full_score_rate":
        assert [d["full_score_rate"] for d in body["districts"]] == [1.0, 0.5, 0.2]
    label = leaderboard.RANK_BY_LABELS[rank_by]
    assert f"按{label}排名" in client.get("/display").get_data(as_text=True)
    assert client.get("/display/data").get_json()["rank_by"] == rank_by


def test_place_unit_without_a_contest_is_free_text():
    from quiz.accounts import place_unit

    assert place_unit("wujin", " 市一院 ", None) == (None, "市一院", None)
    with pytest.raises(AccountError) as caught:
        place_unit("wujin", None, "hutang")
    assert caught.value.field == "township"


def test_a_district_code_may_not_shadow_a_display_path():
    raw = UNITS_CONTEST.read_text(encoding="utf-8").replace(
        "  - {code: tianning, name: 天宁区, population: 690000}\n",
        "  - {code: tianning, name: 天宁区, population: 690000}\n  - {code: units, name: 单位区, population: 1000}\n")
    with pytest.raises(BankInvalid) as caught:
        validate_contest(raw.encode())
    assert [p.message for p in caught.value.problems] == [
        "区县代码“units”是保留字：/display/units 是另一个页面"]
