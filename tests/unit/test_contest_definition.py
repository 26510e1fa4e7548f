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
        (2, "缺少键“max_attempts”"), (2, "缺少键“time_limit_s”"),
    ]


def test_unknown_and_duplicate_keys_are_listed_together(bank):
    raw = contest_file(theme="测试主题\ntitle: 又一个标题", time_limit_s="600\nlanguage: zh")
    assert problems_of(raw) == [(5, "键“title”重复（第一次出现在第 3 行）"), (10, "未知的键“language”")]


@pytest.mark.parametrize("lines,expected", [
    ({"starts_at": "2021-05-22T08:00:00"}, [(6, "starts_at 必须是带时区的 ISO 8601 时间")]),
    ({"ends_at": "六月五日"}, [(7, "ends_at 必须是带时区的 ISO 8601 时间")]),
    ({"starts_at": "2021-05-22", "ends_at": "2021-13-01T00:00:00+08:00"},
     [(6, "starts_at 必须是带时区的 ISO 8601 时间"), (7, "ends_at 必须是带时区的 ISO 8601 时间")]),
    ({"ends_at": "2021-05-22T07:00:00+08:00"}, [(7, "ends_at 必须晚于 starts_at")]),
    ({"ends_at": "2022-05-23T08:00:01+08:00"}, [(7, "竞赛时间最长 366 天")]),
    ({"time_limit_s": "7201"}, [(8, "time_limit_s 必须是 10 到 7200 之间的整数")]),
    ({"max_attempts": "多次"}, [(15, "max_attempts 必须是 1 到 10000 之间的整数")]),
    ({"attempts_per_day": "2", "max_attempts": "1"}, [(15, "max_attempts 不能小于 attempts_per_day")]),
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
     (12, "第 2 条抽题规则（category=health）要求 2 道题，但题库中符合条件的只有 1 道")),
    ({"paper_1": "{category: food, count: 1}"},
     (11, "第 1 条抽题规则（category=food）要求 1 道题，但题库中符合条件的只有 0 道")),
    # the first row may draw the bank's only multiple-choice question, leaving the second row none
    ({"paper_2": "{type: multiple, count: 1}"},
     (12, "第 2 条抽题规则（type=multiple）要求 1 道题，但符合条件的 1 道题中可能有 1 道已被前面的抽题规则抽走")),
    ({"questions_per_attempt": "4"}, (9, "questions_per_attempt 是 4，但题库只有 3 道未停用的题")),
    ({"bank": "other-bank"}, (5, "题库“other-bank”还没有导入")),
])
def test_paper_must_be_satisfiable_from_the_bank(bank, lines, expected):
    assert problems_of(contest_file(**lines)) == [expected]


@pytest.mark.parametrize("lines,expected", [
    ({"paper_2": "{category: health, count: 3}", "questions_per_attempt": "3"},
     (10, "抽题规则要求的题数超过了 questions_per_attempt")),
    ({"paper_2": "{type: essay, count: 1}"}, (12, "抽题规则的 type 必须是 single、multiple 或 judge，不能是 'essay'")),
    ({"paper_2": "{difficulty: 5, count: 1}"}, (12, "抽题规则的 difficulty 必须是 1、2 或 3，不能是 5")),
    ({"paper_2": "{count: 1}"}, (12, "抽题规则需要 count（≥ 1），以及 category、difficulty、type 中的至少一项")),
    ({"district_2": "{code: wujin, name: 武进区二, population: 1}"}, (18, "区县代码“wujin”重复")),
    ({"district_2": "{code: xinbei, name: 新北区}"}, (18, "区县需要 code（代码）、name（名称）和 population")),
])
def test_paper_rows_and_districts(bank, lines, expected):
    problems = problems_of(contest_file(**lines))
    assert [line for line, _ in problems] == [expected[0]]
    assert expected[1] in problems[0][1]


def test_max_score_is_bounded_by_the_leaderboard_encoding():
    questions = [SimpleNamespace(id=n, type="single", category="c", difficulty=1, points=None) for n in range(25)]
    problems = paper_shortfalls(questions, [], 21, {"single": 100}, {"points": 13})
    assert [(p.line, p.message) for p in problems] == [
        (13, "一份试卷可能达到 2100 分；排行榜最多允许 2047 分"),
    ]
    assert paper_shortfalls(questions, [], 20, {"single": 100}) == []


def test_cli_validate_prints_every_problem_with_its_line(runner, bank, tmp_path):
    path = tmp_path / "contest.yaml"
    path.write_bytes(contest_file(ends_at="2021-05-01T00:00:00+08:00", district_2="{code: wujin, name: 武进, population: 1}"))
    result = runner.invoke(args=["contest", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:7: ends_at 必须晚于 starts_at" in result.output
    assert f"{path}:18: 区县代码“wujin”重复" in result.output
    assert all(re.match(rf"^{re.escape(str(path))}:\d+: ", line) for line in result.output.splitlines()[:2])
    assert "共 2 个问题；没有做任何改动。" in result.output


def test_cli_validate_checks_the_paper_against_the_bank(runner, bank, tmp_path):
    path = tmp_path / "contest.yaml"
    path.write_bytes(contest_file(paper_2="{category: health, count: 2}"))
    result = runner.invoke(args=["contest", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:12: 第 2 条抽题规则（category=health）要求 2 道题" in result.output
    path.write_bytes(contest_file())
    ok = runner.invoke(args=["contest", "validate", str(path)])
    assert ok.exit_code == 0, ok.output
    assert db.session.scalar(select(func.count(Contest.id))) == 0


def test_importing_an_existing_slug_updates_it(runner, bank, tmp_path):
    path = tmp_path / "contest.yaml"
    path.write_bytes(contest_file())
    assert "已创建竞赛 test-contest" in runner.invoke(args=["contest", "import", str(path)]).output
    first = db.session.scalar(select(Contest))
    first_id = first.id

    path.write_bytes(contest_file(title="测试竞赛（延期）", ends_at="2021-06-12T22:00:00+08:00", max_attempts="9"))
    result = runner.invoke(args=["contest", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "已更新竞赛 test-contest" in result.output
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


def test_a_featured_contest_is_current_whatever_the_phase(bank):
    make_contest("may-long", "2021-05-01T08:00:00+08:00", "2021-06-10T22:00:00+08:00")
    raw = contest_file(contest="may-short", starts_at="2021-05-20T08:00:00+08:00", ends_at="2021-05-30T22:00:00+08:00")
    import_contest(db.session, raw + b"featured: true\n")
    assert current_contest(db.session, datetime(2021, 5, 10)).slug == "may-short"  # featured, not yet open
    assert current_contest(db.session, datetime(2021, 6, 5)).slug == "may-short"   # featured, ended


def test_featured_must_be_true_or_false(bank):
    with pytest.raises(BankInvalid) as refused:
        validate_contest(contest_file() + b"featured: yes please\n")
    assert [(p.line, p.message) for p in refused.value.problems] == [(len(CONTEST.splitlines()) + 1,
                                                                     "featured 必须是 true 或 false")]


def test_validate_contest_keeps_key_lines_for_bank_problems():
    valid = validate_contest(contest_file())
    assert valid.lines["bank"] == 5
    assert valid.paper[1]["line"] == 12
