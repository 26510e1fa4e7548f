"""The summary report (issue 16): its figures against a hand-computed example, in the domain
function, on the printable console page (the city's and a district organizer's) and in the
workbook the CLI writes.

The example (units contest: wujin 1,390,000, xinbei 800,000, tianning 690,000 residents;
papers of 20 questions × 5 points):
  A 张三丰 wujin  wj-hospital  05-23: 100 (full)  05-24: 80
  B 李四   wujin  wj-school    05-23: 60
  C 王五   xinbei xb-gov       05-23: 70           05-24: 90
  D 赵六   xinbei xb-factory                       05-24: 50
  F 钱七   xinbei xb-factory   05-23: 40
  not counted: S staff (wujin) 100 on 05-23, X disqualified (xinbei) 100 on 05-23,
  E (tianning) an attempt started on 05-24 and never handed in.
"""
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from quiz.accounts import register_citizen
from quiz.clock import utcnow
from quiz.contest import attempts
from quiz.contest.definition import import_contest
from quiz.disqualification import disqualify
from quiz.extensions import db
from quiz.models import AWARD_DRAW, AWARD_RANKED, AuditEntry, Award
from quiz.report import summary_report
from tests.conftest import BANKS, DURING, finish_attempt
from tests.functional.admin_console import make_organizer, sign_in

DAY2 = DURING + timedelta(days=1)
DISTRICTS = {"wujin", "xinbei", "tianning"}
TOWNSHIPS = {"wujin": "hutang", "xinbei": "sanjing"}
AWARDS = ('organizer: 常州市科学技术协会\nawards:\n  - {name: 一等奖, ranks: "1-1"}\n'
          '  - {name: 幸运奖, draw: 2, min_score: 60}\n')


@pytest.fixture
def example(app, sample_bank):
    contest = import_contest(db.session, (BANKS / "units-contest.yaml").read_bytes() + AWARDS.encode())[0]
    people = {}
    for n, (key, name, district, unit) in enumerate([
            ("A", "张三丰", "wujin", "wj-hospital"), ("B", "李四", "wujin", "wj-school"),
            ("C", "王五", "xinbei", "xb-gov"), ("D", "赵六", "xinbei", "xb-factory"),
            ("F", "钱七", "xinbei", "xb-factory"), ("S", "职员", "wujin", "wj-hospital"),
            ("X", "快手", "xinbei", "xb-gov"), ("E", "孙八", "tianning", "tn-community")]):
        people[key] = register_citizen(db.session, f"1390000{n:04d}", name, district, "password123", None, unit,
                                       DISTRICTS, DURING - timedelta(days=1), contest=contest,
                                       township=TOWNSHIPS.get(district))
    people["S"].staff = True
    db.session.commit()
    for key, right, now in [("A", 20, DURING), ("A", 16, DAY2), ("B", 12, DURING), ("C", 14, DURING),
                            ("C", 18, DAY2), ("D", 10, DAY2), ("F", 8, DURING), ("S", 20, DURING),
                            ("X", 20, DURING)]:
        finish_attempt(people[key], contest, right=right, seconds=300, now=now)
    attempts.start_attempt(db.session, people["E"], contest, DAY2)
    disqualify(db.session, contest, people["X"], "答题过快", None)
    return contest, people


def give_awards(contest, people):
    """What `awards assign` and `awards draw` store: A 一等奖, C 幸运奖 (drawn first)."""
    db.session.add_all([
        Award(contest_id=contest.id, user_id=people["A"].id, tier="一等奖", kind=AWARD_RANKED, position=1,
              score=100, assigned_at=utcnow()),
        Award(contest_id=contest.id, user_id=people["C"].id, tier="幸运奖", kind=AWARD_DRAW, position=1,
              score=90, assigned_at=utcnow())])
    contest.awards_assigned_at = utcnow()
    db.session.commit()


WINDOW = [f"2021-05-{d}" for d in range(22, 32)] + [f"2021-06-0{d}" for d in range(1, 6)]


def test_report_figures_match_the_hand_computed_example(example):
    contest, people = example
    report = summary_report(db.session, contest, utcnow(), min_answers=1)
    assert [d.day for d in report.days] == WINDOW  # every day of the window, empty ones as zeros
    assert {d.day: (d.participants, d.attempts) for d in report.days if d.attempts} == {
        "2021-05-23": (4, 4), "2021-05-24": (3, 3)}  # A B C F; A C D
    by_code = {d.code: d for d in report.districts}
    assert list(by_code) == ["wujin", "xinbei", "tianning"]
    wujin, xinbei, tianning = by_code.values()
    assert (wujin.participants, wujin.attempts, round(wujin.per_10k, 2)) == (2, 3, 0.01)  # 2 / 139
    assert (wujin.average_best_score, wujin.full_score_rate) == (80.0, 0.5)  # (100 + 60) / 2; A full
    assert (xinbei.participants, xinbei.attempts, round(xinbei.per_10k, 2)) == (3, 4, 0.04)  # 3 / 80
    assert (xinbei.average_best_score, xinbei.full_score_rate) == (60.0, 0.0)  # (90 + 50 + 40) / 3
    assert (tianning.participants, tianning.attempts, tianning.average_best_score) == (0, 0, None)
    total = report.total
    assert (total.participants, total.attempts, total.population) == (5, 7, 2_880_000)
    assert (round(total.per_10k, 2), total.average_best_score, total.full_score_rate) == (0.02, 68.0, 0.2)
    assert dict(report.score_buckets) == {  # per 人次: 100 90 | 80 | 70 | 60 | 50 | 40
        "0–9%": 0, "10–19%": 0, "20–29%": 0, "30–39%": 0, "40–49%": 1, "50–59%": 1, "60–69%": 1,
        "70–79%": 1, "80–89%": 1, "90–100%": 2}
    assert [(u["code"], u["participants"], u["attempts"], u["average_score"]) for u in report.units] == [
        ("xb-factory", 2, 2, 45), ("wj-hospital", 1, 2, 100), ("wj-school", 1, 1, 60), ("xb-gov", 1, 2, 90),
        ("tn-community", 0, 0, 0)]
    # 7 counted papers of 20 questions: 140 answers in all; the lists run from the lowest and
    # the highest correct rate.
    assert 0 < len(report.hardest) <= 10 and len(report.easiest) == len(report.hardest)
    rates = [q.correct_rate for q in report.hardest]
    assert rates == sorted(rates) and report.easiest[0].correct_rate == 1.0
    assert report.awards == []  # 尚未评奖
    # No question reaches the console's 30 answers.
    assert summary_report(db.session, contest, utcnow()).hardest == []


def test_report_of_one_district_and_its_awards(example):
    contest, people = example
    give_awards(contest, people)
    report = summary_report(db.session, contest, utcnow(), district="wujin")
    assert [d.code for d in report.districts] == ["wujin"]
    assert (report.total.participants, report.total.attempts, report.total.average_best_score) == (2, 3, 80.0)
    assert {d.day: d.participants for d in report.days if d.attempts} == {"2021-05-23": 2, "2021-05-24": 1}
    assert [u["code"] for u in report.units] == ["wj-hospital", "wj-school"]
    assert [(t.name, t.count) for t in report.awards] == [("一等奖", 1), ("幸运奖", 0)]
    assert (report.awards[0].winners[0].name, report.awards[0].winners[0].district) == ("张*丰", "武进区")
    city = summary_report(db.session, contest, utcnow())
    assert [(t.name, [w.name for w in t.winners]) for t in city.awards] == [("一等奖", ["张*丰"]), ("幸运奖", ["王*"])]


def rows_of(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start:page.index("</section>", start)]


def test_city_organizer_report_page_is_printable(client, example):
    contest, people = example
    sign_in(client, make_organizer("city"))
    response = client.get(f"/admin/report?contest={contest.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "单位与镇街道测试竞赛 · 总结报告" in page and "常州市科学技术协会" in page
    assert "<td>2021-05-23</td><td class=\"num\">4</td><td class=\"num\">4</td>" in page
    districts = rows_of(page, 'id="report-districts"')
    assert ('<td>武进区</td><td class="num">1390000</td><td class="num">2</td><td class="num">3</td>'
            '<td class="num">0.01</td><td class="num">80.00</td><td class="num">50.0%</td>') in districts
    assert ('<td>新北区</td><td class="num">800000</td><td class="num">3</td><td class="num">4</td>'
            '<td class="num">0.04</td><td class="num">60.00</td><td class="num">0.0%</td>') in districts
    assert ('<td>合计</td><td class="num">2880000</td><td class="num">5</td><td class="num">7</td>'
            '<td class="num">0.02</td><td class="num">68.00</td><td class="num">20.0%</td>') in districts
    assert "<td>90–100%</td><td class=\"num\">2</td>" in page
    assert "武进人民医院" in rows_of(page, 'id="report-units"')
    assert "尚未评奖" in page and "没有作答满 30 次的题目" in page
    # Three server-drawn charts, outlined bars with their values, Chinese axis labels; no script, no inline style.
    assert page.count("<svg") == 3 and 'stroke="#1f2328"' in page and ">日期</text>" in page
    assert '<text class="chart-value" x="' in page and "<script" not in page and "style=" not in page
    assert 'href="/static/report.css' in page
    with client.get("/static/report.css") as served:
        css = served.get_data(as_text=True)
    assert "@page { size: A4" in css and "break-before: page" in css and "break-inside: avoid" in css
    assert "总结报告" in client.get("/admin").get_data(as_text=True)  # the console's nav links here
    wujin = client.get(f"/admin/report?contest={contest.id}&district=wujin").get_data(as_text=True)
    assert "总结报告（武进区）" in wujin and "<td>新北区</td>" not in wujin
    bad = client.get(f"/admin/report?contest={contest.id}&district=nowhere")
    assert bad.status_code == 400 and "区县：没有这个区县" in bad.get_data(as_text=True)


def test_district_organizer_sees_only_their_district(client, example):
    contest, people = example
    give_awards(contest, people)
    sign_in(client, make_organizer("district", "xinbei"))
    page = client.get(f"/admin/report?contest={contest.id}&district=wujin").get_data(as_text=True)
    assert "总结报告（新北区）" in page
    districts = rows_of(page, 'id="report-districts"')
    assert "<td>新北区</td>" in districts and "武进区" not in districts and "合计" not in districts
    assert "<td>2021-05-23</td><td class=\"num\">2</td><td class=\"num\">2</td>" in page  # C F
    assert "武进人民医院" not in page and "新北电子厂" in page
    awards = rows_of(page, 'id="report-awards"')
    assert "王*" in awards and "张*丰" not in awards and "王五" not in awards


def test_cli_writes_the_workbook_and_audits_it(runner, example, tmp_path):
    contest, people = example
    give_awards(contest, people)
    out = tmp_path / "report.xlsx"
    result = runner.invoke(args=["report", "units-test", "--out", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out, read_only=True)
    try:
        sheets = {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}
    finally:
        book.close()
    assert list(sheets) == ["概况", "按日", "按区县", "按单位", "分数分布", "最难题目", "最易题目", "奖项"]
    assert sheets["按日"][0] == ("日期", "参与人数", "答题人次")
    assert ("2021-05-23", 4, 4) in sheets["按日"] and ("2021-05-24", 3, 3) in sheets["按日"]
    assert sheets["按区县"][1:] == [
        ("wujin", "武进区", 1390000, 2, 3, 0.01, 80, 0.5), ("xinbei", "新北区", 800000, 3, 4, 0.04, 60, 0),
        ("tianning", "天宁区", 690000, 0, 0, 0, None, 0), (None, "合计", 2880000, 5, 7, 0.02, 68, 0.2)]  # an empty cell
    assert ("xb-factory", "新北电子厂", "新北区", 2, 2, 45, 0) in sheets["按单位"]
    assert sheets["分数分布"][-1] == ("90–100%", 2) and sheets["分数分布"][5] == ("40–49%", 1)
    assert sheets["最难题目"] == [("序号", "题号", "题目", "题型", "作答次数", "答对次数", "正确率")]  # none has 30 answers
    assert sheets["奖项"][1:] == [("一等奖", 1, 1, "张*丰", "武进区", "武进人民医院", 100),
                                 ("幸运奖", 1, 1, "王*", "新北区", "新北区人民政府", 90)]
    assert ("参与人数", 5) in sheets["概况"] and ("主办单位", "常州市科学技术协会") in sheets["概况"]
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.action) == ("cli", "export") and entry.detail.startswith("report xlsx units-test")

    missing = runner.invoke(args=["report", "no-such-contest", "--out", str(tmp_path / "x.xlsx")])
    assert missing.exit_code != 0 and "没有竞赛 no-such-contest" in missing.output
    assert not (tmp_path / "x.xlsx").exists()
