"""Contest definition files: line-numbered problems, the paper checked against the bank,
updates by slug, and which contest is the current one."""
import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from conftest import BANKS
from sqlalchemy import func, select

from quiz.bank.importer import import_bank
from quiz.bank.validator import BankInvalid
from quiz.clock import utcnow
from quiz.contest.definition import import_contest, paper_shortfalls, validate_contest
from quiz.contest.rules import current_contest
from quiz.extensions import db
from quiz.models import Contest

CONTEST = (BANKS / "contest.yaml").read_text(encoding="utf-8")


def contest_file(**lines) -> bytes:
    """contest.yaml with whole lines replaced, keeping the line numbers: key="value", or
    key=None to blank the line; paper_1/paper_2 and district_1/district_2 name the list rows."""
    rows = CONTEST.splitlines()
    starts = {"paper_1": 10, "paper_2": 11, "district_1": 16, "district_2": 17}
    for key, value in lines.items():
        index = starts.get(key) or next(i for i, row in enumerate(rows) if row.startswith(f"{key}:"))
        if value is None:
            rows[index] = ""
        elif key.startswith(("paper_", "district_")):
            rows[index] = f"  - {value}"
        else:
            rows[index] = f"{key}: {value}"
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def bank(app):
    return import_bank(db.session, (BANKS / "good.yaml").read_bytes(), "good.yaml").bank


def problems_of(raw: bytes) -> list[tuple[int, str]]:
    with pytest.raises(BankInvalid) as caught:
        import_contest(db.session, raw)
    assert db.session.scalar(select(func.count(Contest.id))) == 0
    return [(p.line, p.message) for p in caught.value.problems]


def test_good_file_imports(bank):
    contest, created = import_contest(db.session, contest_file())
    assert created
    assert (contest.slug, contest.bank_slug, contest.title) == ("test-contest", "test-bank", "测试竞赛")
    assert (contest.starts_at, contest.ends_at) == (datetime(2021, 5, 22, 0, 0), datetime(2021, 6, 5, 14, 0))
    assert contest.paper == [{"category": "safety", "count": 1}, {"category": "health", "count": 1}]
    assert [d["code"] for d in contest.districts] == ["wujin", "xinbei"]


def test_missing_keys_are_named(bank):
    assert problems_of(contest_file(time_limit_s=None, max_attempts=None)) == [
        (2, "missing key 'max_attempts'"), (2, "missing key 'time_limit_s'"),
    ]


def test_unknown_and_duplicate_keys_are_listed_together(bank):
    raw = contest_file(theme="测试主题\ntitle: 又一个标题", time_limit_s="600\nlanguage: zh")
    assert problems_of(raw) == [(5, "duplicate key 'title' (first on line 3)"), (10, "unknown key 'language'")]


@pytest.mark.parametrize("lines,expected", [
    ({"starts_at": "2021-05-22T08:00:00"}, [(6, "starts_at must be ISO 8601 with an offset")]),
    ({"ends_at": "六月五日"}, [(7, "ends_at must be ISO 8601 with an offset")]),
    ({"starts_at": "2021-05-22", "ends_at": "2021-13-01T00:00:00+08:00"},
     [(6, "starts_at must be ISO 8601 with an offset"), (7, "ends_at must be ISO 8601 with an offset")]),
    ({"ends_at": "2021-05-22T07:00:00+08:00"}, [(7, "ends_at must be after starts_at")]),
    ({"ends_at": "2022-05-23T08:00:01+08:00"}, [(7, "a contest window may last at most 366 days")]),
    ({"time_limit_s": "7201"}, [(8, "time_limit_s must be an integer from 10 to 7200")]),
    ({"max_attempts": "多次"}, [(15, "max_attempts must be an integer from 1 to 10000")]),
    ({"attempts_per_day": "2", "max_attempts": "1"}, [(15, "max_attempts must be at least attempts_per_day")]),
])
def test_dates_window_and_limits(bank, lines, expected):
    problems = problems_of(contest_file(**lines))
    assert [line for line, _ in problems] == [line for line, _ in expected]
    for (_, message), (_, part) in zip(problems, expected, strict=True):
        assert part in message


def test_window_of_exactly_48_days_is_allowed(bank):
    contest, _ = import_contest(db.session, contest_file(ends_at="2021-07-09T08:00:00+08:00"))
    assert contest.ends_at - contest.starts_at == timedelta(days=48)


@pytest.mark.parametrize("lines,expected", [
    ({"paper_2": "{category: health, count: 2}"},
     (12, "paper row 2 (category=health) asks for 2 questions but the bank has only 1 matching")),
    ({"paper_1": "{category: food, count: 1}"},
     (11, "paper row 1 (category=food) asks for 1 questions but the bank has only 0 matching")),
    # the first row may draw the bank's only multiple-choice question, leaving the second row none
    ({"paper_2": "{type: multiple, count: 1}"},
     (12, "paper row 2 (type=multiple) asks for 1 questions but the rows above may take 1 of its 1 matching questions")),
    ({"questions_per_attempt": "4"}, (9, "questions_per_attempt is 4 but the bank has only 3 active questions")),
    ({"bank": "other-bank"}, (5, "bank 'other-bank' has not been imported")),
])
def test_paper_must_be_satisfiable_from_the_bank(bank, lines, expected):
    assert problems_of(contest_file(**lines)) == [expected]


@pytest.mark.parametrize("lines,expected", [
    ({"paper_2": "{category: health, count: 3}", "questions_per_attempt": "3"},
     (10, "the paper rows ask for more questions than questions_per_attempt")),
    ({"paper_2": "{type: essay, count: 1}"}, (12, "a paper row's type must be single, multiple or judge, not 'essay'")),
    ({"paper_2": "{difficulty: 5, count: 1}"}, (12, "a paper row's difficulty must be 1, 2 or 3, not 5")),
    ({"paper_2": "{count: 1}"}, (12, "a paper row needs count (≥ 1) and any of category, difficulty, type")),
    ({"district_2": "{code: wujin, name: 武进区二, population: 1}"}, (18, "duplicate district code 'wujin'")),
    ({"district_2": "{code: xinbei, name: 新北区}"}, (18, "a district needs code (slug), name and population")),
])
def test_paper_rows_and_districts(bank, lines, expected):
    problems = problems_of(contest_file(**lines))
    assert [line for line, _ in problems] == [expected[0]]
    assert expected[1] in problems[0][1]


def test_max_score_is_bounded_by_the_leaderboard_encoding():
    questions = [SimpleNamespace(id=n, type="single", category="c", difficulty=1, points=None) for n in range(25)]
    problems = paper_shortfalls(questions, [], 21, {"single": 100}, {"points": 13})
    assert [(p.line, p.message) for p in problems] == [
        (13, "a paper could be worth 2100 points; the leaderboard allows at most 2047"),
    ]
    assert paper_shortfalls(questions, [], 20, {"single": 100}) == []


def test_cli_validate_prints_every_problem_with_its_line(runner, bank, tmp_path):
    path = tmp_path / "contest.yaml"
    path.write_bytes(contest_file(ends_at="2021-05-01T00:00:00+08:00", district_2="{code: wujin, name: 武进, population: 1}"))
    result = runner.invoke(args=["contest", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:7: ends_at must be after starts_at" in result.output
    assert f"{path}:18: duplicate district code 'wujin'" in result.output
    assert all(re.match(rf"^{re.escape(str(path))}:\d+: ", line) for line in result.output.splitlines()[:2])
    assert "2 problem(s); nothing was changed." in result.output


def test_cli_validate_checks_the_paper_against_the_bank(runner, bank, tmp_path):
    path = tmp_path / "contest.yaml"
    path.write_bytes(contest_file(paper_2="{category: health, count: 2}"))
    result = runner.invoke(args=["contest", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:12: paper row 2 (category=health) asks for 2 questions" in result.output
    path.write_bytes(contest_file())
    ok = runner.invoke(args=["contest", "validate", str(path)])
    assert ok.exit_code == 0, ok.output
    assert db.session.scalar(select(func.count(Contest.id))) == 0


def test_importing_an_existing_slug_updates_it(runner, bank, tmp_path):
    path = tmp_path / "contest.yaml"
    path.write_bytes(contest_file())
    assert "created contest test-contest" in runner.invoke(args=["contest", "import", str(path)]).output
    first = db.session.scalar(select(Contest))
    first_id = first.id

    path.write_bytes(contest_file(title="测试竞赛（延期）", ends_at="2021-06-12T22:00:00+08:00", max_attempts="9"))
    result = runner.invoke(args=["contest", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "updated contest test-contest" in result.output
    db.session.expire_all()
    contests = db.session.scalars(select(Contest)).all()
    assert [c.id for c in contests] == [first_id]
    assert (contests[0].title, contests[0].ends_at, contests[0].max_attempts) == \
        ("测试竞赛（延期）", datetime(2021, 6, 12, 14, 0), 9)


def test_refused_update_leaves_the_contest_as_it_was(runner, bank, tmp_path):
    import_contest(db.session, contest_file())
    path = tmp_path / "contest.yaml"
    path.write_bytes(contest_file(title="新标题", paper_2="{category: health, count: 2}"))
    result = runner.invoke(args=["contest", "import", str(path)])
    assert result.exit_code == 1
    db.session.expire_all()
    assert db.session.scalar(select(Contest.title)) == "测试竞赛"


def test_shift_to_now_starts_today_in_shanghai_with_the_same_length(runner, bank, tmp_path):
    path = tmp_path / "contest.yaml"
    path.write_bytes(contest_file())
    result = runner.invoke(args=["contest", "import", "--shift-to-now", str(path)])
    assert result.exit_code == 0, result.output
    contest = db.session.scalar(select(Contest))
    shanghai_midnight = (utcnow() + timedelta(hours=8)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert contest.starts_at == shanghai_midnight - timedelta(hours=8)
    assert contest.ends_at - contest.starts_at == timedelta(days=14, hours=14)


def make_contest(slug: str, starts: str, ends: str) -> Contest:
    contest, _ = import_contest(db.session, contest_file(contest=slug, starts_at=starts, ends_at=ends))
    return contest


def test_current_contest_choice(bank):
    assert current_contest(db.session, datetime(2021, 5, 1)) is None
    make_contest("spring", "2021-03-01T08:00:00+08:00", "2021-03-20T22:00:00+08:00")
    make_contest("may-long", "2021-05-01T08:00:00+08:00", "2021-06-10T22:00:00+08:00")
    make_contest("may-short", "2021-05-20T08:00:00+08:00", "2021-05-30T22:00:00+08:00")
    make_contest("autumn", "2021-09-01T08:00:00+08:00", "2021-09-10T22:00:00+08:00")

    def current(utc: datetime) -> str | None:
        found = current_contest(db.session, utc)
        return found.slug if found else None

    assert current(datetime(2021, 3, 10)) == "spring"            # the one open
    assert current(datetime(2021, 5, 10)) == "may-long"          # the one open
    assert current(datetime(2021, 5, 25)) == "may-short"         # two open: the one started last
    assert current(datetime(2021, 6, 5)) == "may-long"           # may-short ended, may-long still open
    assert current(datetime(2021, 4, 1)) == "may-long"           # none open: the next to open
    assert current(datetime(2021, 7, 1)) == "autumn"             # none open: the next to open
    assert current(datetime(2021, 10, 1)) == "autumn"            # all ended: the one that ended last
    assert current(datetime(2021, 5, 20, 0, 0)) == "may-short"   # opens at its start instant
    assert current(datetime(2021, 3, 20, 14, 0)) == "may-long"   # closed at its end instant


def test_validate_contest_keeps_key_lines_for_bank_problems():
    valid = validate_contest(contest_file())
    assert valid.lines["bank"] == 5
    assert valid.paper[1]["line"] == 12
