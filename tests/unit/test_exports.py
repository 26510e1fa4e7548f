"""Exports read back with the csv module and openpyxl: header, rows, phones, defused formulas."""
import csv
import io
from datetime import timedelta

import pytest
from conftest import DURING, xlsx_rows
from functional.admin_console import finished_attempt
from openpyxl import load_workbook
from sqlalchemy import select

from quiz import exports
from quiz.extensions import db
from quiz.models import AuditEntry, Question

FORMULA_NAMES = ['=HYPERLINK("e.cn")', "+8613900000000", "-1+2", "@SUM(A1)"]


@pytest.fixture
def results(contest, citizens):
    """Six finished attempts: four citizens with formula-like names (wujin) and two plain ones (liyang)."""
    question = db.session.scalar(select(Question).where(Question.qid == "achievements-001"))
    people = [citizens.make(district="wujin", name=name) for name in FORMULA_NAMES]
    people += [citizens.make(district="liyang", name="李四"), citizens.make(district="liyang", name="王五")]
    for number, person in enumerate(people):
        finished_attempt(contest, person, DURING + timedelta(minutes=number), [(question, list(question.answer), 30)])
    return contest, people


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("value, cell", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("张三", "张三"), ("a=b", "a=b"), (-5, -5), (12.5, 12.5), ("", ""),
])
def test_safe_cell_defuses_formulas_only(value, cell):
    assert exports.safe_cell(value) == cell


def test_csv_results_masked_with_header_and_every_row(results):
    contest, people = results
    data = b"".join(exports.csv_chunks(exports.result_rows(db.session, contest)))
    rows = read_csv(data)
    assert tuple(rows[0]) == exports.RESULT_HEADER
    assert len(rows) == 1 + 6
    phones = [row[2] for row in rows[1:]]
    assert phones == [p.phone[:3] + "****" + p.phone[-4:] for p in people]
    names = [row[1] for row in rows[1:5]]
    assert names == ["'" + name for name in FORMULA_NAMES]
    assert rows[5][1] == "李四" and rows[5][3] == "溧阳市"
    assert rows[1][-1] == "已交卷" and rows[1][8] == "5"


def test_csv_in_small_chunks_is_the_same_file(results):
    contest, _ = results
    whole = b"".join(exports.csv_chunks(exports.result_rows(db.session, contest, full_phones=True)))
    pieces = list(exports.csv_chunks(exports.result_rows(db.session, contest, full_phones=True), rows_per_chunk=2))
    assert len(pieces) == 4 and b"".join(pieces) == whole


def test_xlsx_results_read_back_with_openpyxl(results, tmp_path):
    contest, people = results
    path = tmp_path / "results.xlsx"
    path.write_bytes(b"".join(exports.xlsx_chunks(exports.result_rows(db.session, contest, district="wujin"))))
    rows = xlsx_rows(path)
    assert rows[0] == exports.RESULT_HEADER
    assert len(rows) == 1 + 4  # wujin only
    assert [row[1] for row in rows[1:]] == ["'" + name for name in FORMULA_NAMES]
    assert all("****" in row[2] for row in rows[1:])
    assert rows[1][8] == 5  # numbers stay numbers
    # No cell is stored as a formula.
    full = load_workbook(path).active
    assert all(cell.data_type != "f" for row in full.iter_rows() for cell in row)


def test_district_summary(results):
    contest, _ = results
    rows = read_csv(b"".join(exports.csv_chunks(exports.district_rows(db.session, contest))))
    assert tuple(rows[0]) == exports.DISTRICT_HEADER
    assert len(rows) == 1 + len(contest.districts)
    wujin = next(row for row in rows if row[0] == "wujin")
    # 4 participants in 1,390,000 residents -> 0.03 per 10,000 (rounded to 2 places)
    assert wujin[3] == "4" and wujin[4] == "0.03" and wujin[5] == "4" and wujin[6] == "5.0"


def test_cli_exports_full_phones_and_is_audited(results, runner, tmp_path):
    contest, people = results
    out = tmp_path / "all.csv"
    outcome = runner.invoke(args=["export", "results", "--format", "csv", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    rows = read_csv(out.read_bytes())
    assert len(rows) == 7 and [row[2] for row in rows[1:]] == [p.phone for p in people]

    xlsx = tmp_path / "districts.xlsx"
    outcome = runner.invoke(args=["export", "districts", "--format", "xlsx", "--out", str(xlsx), "--contest", contest.slug])
    assert outcome.exit_code == 0, outcome.output
    assert len(xlsx_rows(xlsx)) == 1 + len(contest.districts)

    actions = db.session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "export")).all()
    assert len(actions) == 2 and actions[0].startswith("results csv cz-2021-3rd")


def test_cli_refuses_an_unknown_contest(app, runner, tmp_path):
    outcome = runner.invoke(args=["export", "results", "--out", str(tmp_path / "x.csv"), "--contest", "nope"])
    assert outcome.exit_code != 0 and "没有竞赛 nope" in outcome.output
