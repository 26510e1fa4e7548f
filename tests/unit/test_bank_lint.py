"""bank lint: the checks on small banks, the sample bank (version 2) and its version 1 fixture.

No database: these run with --noconftest too.
"""
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask

from quiz.bank.lint import lint_bank
from quiz.bank.validator import validate_bank
from quiz.cli import bank_cli
from quiz.contest.attempts import draw_paper
from quiz.contest.definition import paper_shortfalls, validate_contest

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE = ROOT / "question_bank" / "cz-science-2021.yaml"
SAMPLE_V1 = ROOT / "tests" / "banks" / "cz-science-2021-v1.yaml"
CONTEST = ROOT / "question_bank" / "cz-2021-3rd.contest.yaml"


def bank_of(questions: list[str]):
    head = "bank: t\ntitle: T\nversion: 1\ncategories:\n  c: C\nquestions:\n"
    return validate_bank((head + "".join(questions)).encode())


def single(qid, stem, options, answer, difficulty=2):
    lines = "".join(f'      {k}: "{t}"\n' for k, t in zip("ABCD", options, strict=False))
    return (f'  - id: {qid}\n    type: single\n    category: c\n    difficulty: {difficulty}\n'
            f'    stem: "{stem}"\n    options:\n{lines}    answer: {answer}\n    explanation: "e"\n')


def checks(report):
    return [(w.question, w.check) for w in report.warnings]


@pytest.fixture(scope="module")
def sample():
    return validate_bank(SAMPLE.read_bytes())


@pytest.fixture(scope="module")
def sample_report(sample):
    return lint_bank(sample)


def share(fig, count):
    return count / fig["questions"]


# ---- the checks ---------------------------------------------------------------------

def test_a_small_bank_gets_no_statistical_warnings():
    report = lint_bank(validate_bank((ROOT / "tests" / "banks" / "good.yaml").read_bytes()))
    assert report.warnings == []
    assert report.figures["single"]["best"]["correct"] == 1


def test_near_duplicate_stems_are_named_with_the_first_one():
    report = lint_bank(bank_of([
        single("q-1", "我国第一颗人造地球卫星是哪一年发射的？", ["1970年", "1964年", "1967年", "1975年"], "A"),
        single("q-2", "我国的第一颗人造地球卫星是在哪一年发射？", ["1960年", "1970年", "1967年", "1975年"], "B"),
        single("q-3", "火警报警电话是多少？", ["110", "119", "120", "122"], "B"),
    ]))
    near = [w for w in report.warnings if w.check == "near-duplicate"]
    assert [w.question for w in near] == ["q-2"] and "题目 q-1（第 7 行）" in near[0].message
    assert "q-3" not in {w.question for w in report.warnings}


def test_giveaway_needs_the_answer_and_shared_context():
    report = lint_bank(bank_of([
        single("q-1", "“勇攀高峰、敢为人先”体现的是哪种精神？", ["爱国精神", "求实精神", "创新精神", "育人精神"], "C"),
        single("q-2", "下列哪一项属于科学家精神？", ["勇攀高峰、敢为人先的创新精神", "急功近利的功利作风", "弄虚作假的学术风气", "闭门造车的保守做法"], "A"),
        # the same answer text without shared context is no giveaway
        single("q-3", "汽车工业需要什么？", ["创新精神", "高额补贴", "低价竞争", "垄断经营"], "A"),
    ]))
    assert checks(report) == [("q-1", "giveaway")]
    assert "q-2" in report.warnings[0].message and "创新精神" in report.warnings[0].message


def test_wildly_unequal_options():
    report = lint_bank(bank_of([single("q-1", "正确的逃生方式？", ["就近躲在结实的桌子下或内墙墙角并护住头颈", "跳楼", "乘电梯", "观察"], "A")]))
    assert checks(report) == [("q-1", "option-length")]
    assert "A（是答案） 有 20 个字" in report.warnings[0].message


def test_difficulty_against_measured_facility():
    bank = bank_of([
        single("q-1", "火警电话？", ["110", "119", "120", "122"], "B", difficulty=3),
        single("q-2", "匪警电话？", ["110", "119", "120", "122"], "A", difficulty=1),
        single("q-3", "急救电话？", ["110", "119", "120", "122"], "C", difficulty=2),
    ])
    assert lint_bank(bank).warnings == []  # no facility: no check
    report = lint_bank(bank, facility={"q-1": 0.97, "q-2": 0.31, "q-3": 0.6})
    assert checks(report) == [("q-1", "difficulty"), ("q-2", "difficulty")]
    assert "应为 1" in report.warnings[0].message and "应为 3" in report.warnings[1].message


# ---- version 1 of the sample bank (the findings) ------------------------------

def test_version_1_blind_strategies_and_giveaways():
    report = lint_bank(validate_bank(SAMPLE_V1.read_bytes()))
    multiple, single_fig = report.figures["multiple"], report.figures["single"]
    assert multiple["best"] == {"name": "always A,B,C", "correct": 19} and multiple["questions"] == 36
    assert multiple["key_counts"] == {2: 2, 3: 34}
    # the key is the only longest option in 41 %; always tapping the (first) longest option scores 48 %
    assert (single_fig["longest_unique"], single_fig["strategies"]["always the longest option"]) == (42, 49)
    assert single_fig["questions"] == 103
    pairs = {(w.question, w.message.split("题目 ")[1].split("（")[0]) for w in report.warnings if w.check == "giveaway"}
    assert {("spirit-002", "spirit-012"), ("biosafety-006", "biosafety-015"), ("agriculture-001", "agriculture-011"),
            ("agriculture-009", "agriculture-013"), ("environment-004", "environment-009"),
            ("health-005", "health-011")} <= pairs
    found = {w.check for w in report.warnings}
    assert {"blind-strategy", "answer-count", "key-position", "near-duplicate", "option-length"} <= found


# ---- version 2 ------------------------------------------------------------------------

def test_sample_bank_passes_strict_lint(sample, sample_report):
    assert sample.version == 2 and len(sample.questions) >= 400
    assert [w.format("bank") for w in sample_report.warnings] == []


def test_no_blind_strategy_scores_more_than_30_percent(sample_report):
    for qtype in ("single", "multiple"):
        fig = sample_report.figures[qtype]
        assert max(fig["strategies"].values()) / fig["questions"] <= 0.30, (qtype, fig["best"])
    judge = sample_report.figures["judge"]
    assert 0.40 <= share(judge, judge["true"]) <= 0.60


def test_keys_are_balanced(sample, sample_report):
    fig = sample_report.figures["single"]
    assert all(0.20 <= share(fig, n) <= 0.30 for n in fig["key_positions"].values())
    assert set(sample_report.figures["multiple"]["key_counts"]) >= {2, 3, 4}
    assert share(fig, fig["longest_unique"]) <= 0.30


def test_theme_categories_hold_a_third_of_the_bank(sample):
    contest = validate_contest(CONTEST.read_bytes())
    theme = {row["category"] for row in contest.paper if "category" in row}
    assert theme == {"achievements", "spirit"}
    assert sum(q.category in theme for q in sample.questions) * 3 >= len(sample.questions)


def _pool(sample):
    return [SimpleNamespace(id=n, qid=q.qid, type=q.type, category=q.category, difficulty=q.difficulty, points=q.points)
            for n, q in enumerate(sample.questions, 1)]


def test_contest_draws_full_papers_and_seven_attempts_rarely_repeat(sample):
    contest = validate_contest(CONTEST.read_bytes())
    pool = _pool(sample)
    assert paper_shortfalls(pool, contest.paper, contest.questions_per_attempt, contest.points) == []
    rng = random.Random(7)
    citizens, repeating = 200, 0
    for _ in range(citizens):
        seen: set = set()
        repeated = False
        for _ in range(contest.max_attempts):
            paper = draw_paper(pool, contest.paper, contest.questions_per_attempt, seen, rng)
            assert len({q.qid for q in paper}) == contest.questions_per_attempt
            repeated |= any(q.qid in seen for q in paper)
            seen.update(q.qid for q in paper)
        repeating += repeated
    assert repeating / citizens <= 0.05


def test_cli_lint_strict_exit_codes():
    app = Flask(__name__)
    app.config["BANK_MAX_BYTES"] = 5 * 1024 * 1024
    app.cli.add_command(bank_cli)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["bank", "lint", "--strict", str(SAMPLE)])
    assert ok.exit_code == 0 and "0 条提示" in ok.output
    old = runner.invoke(args=["bank", "lint", str(SAMPLE_V1)])
    assert old.exit_code == 0 and "总选 A,B,C”答对 53 %（36 题中 19 题）" in old.output
    assert "cz-science-2021-v1.yaml:223: 题目 spirit-002：泄题" in old.output
    assert runner.invoke(args=["bank", "lint", "--strict", str(SAMPLE_V1)]).exit_code == 1
