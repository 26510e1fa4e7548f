"""XLSX downloads a spreadsheet user can work with: a frozen bold header, column widths that
fit, date-times as real date-time cells in Asia/Shanghai (the CSV keeps the same text)."""
import csv
import io
from datetime import datetime

import pytest
from admin_console import make_organizer, page_token, sign_in
from conftest import DURING, finish_attempt
from openpyxl import load_workbook

from quiz import exports
from quiz.clock import local
from quiz.extensions import db
from quiz.models import Attempt


@pytest.fixture
def finished(contest, citizens):
    citizen = citizens.make(district="wujin", name="欧阳中华人民共和国")
    graded = finish_attempt(citizen, contest, 20, 95, now=DURING)
    return db.session.get(Attempt, graded.id)


def download(client, kind, fmt):
    token = page_token(client.get("/admin/exports").get_data(as_text=True))
    response = client.post("/admin/exports", data={"csrf_token": token, "kind": kind, "fmt": fmt, "district": ""})
    assert response.status_code == 200
    return response.get_data()


@pytest.mark.parametrize("kind", ["results", "districts", "standings"])
def test_every_export_has_a_frozen_header_and_column_widths(client, finished, kind):
    sign_in(client, make_organizer("city"))
    sheet = load_workbook(io.BytesIO(download(client, kind, "xlsx"))).active
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    assert tuple(header) == {"results": exports.RESULT_HEADER, "districts": exports.DISTRICT_HEADER,
                             "standings": exports.STANDINGS_HEADER}[kind]  # the columns stay as they were
    assert all(cell.font.b for cell in sheet[1])
    letters = [cell.column_letter for cell in sheet[1]]
    widths = [sheet.column_dimensions[letter].width for letter in letters]
    assert all(width >= 8 for width in widths), widths
    if kind == "results":
        by_name = dict(zip(header, widths, strict=True))
        assert by_name["姓名"] >= 2 * len("欧阳中华人民共和国")  # Chinese characters are twice as wide
        assert by_name["开始时间"] >= len("2021-05-23 10:00:00")


def test_times_are_datetime_cells_in_shanghai_time(client, finished):
    sign_in(client, make_organizer("city"))
    sheet = load_workbook(io.BytesIO(download(client, "results", "xlsx"))).active
    header = [cell.value for cell in sheet[1]]
    started, handed_in = (sheet.cell(row=2, column=header.index(name) + 1) for name in ("开始时间", "交卷时间"))
    assert started.is_date and isinstance(started.value, datetime)
    assert started.number_format == "yyyy-mm-dd hh:mm:ss"
    assert started.value == local(finished.started_at).replace(tzinfo=None, microsecond=0)  # 10:00 in Shanghai
    assert handed_in.value == local(finished.finished_at).replace(tzinfo=None, microsecond=0)
    assert sheet.cell(row=2, column=header.index("用时（秒）") + 1).value == 95

    rows = list(csv.reader(io.StringIO(download(client, "results", "csv").decode("utf-8-sig"))))
    assert rows[1][header.index("开始时间")] == started.value.strftime("%Y-%m-%d %H:%M:%S")  # the CSV: text


def test_standings_finished_at_is_a_datetime_cell(client, finished):
    sign_in(client, make_organizer("city"))
    sheet = load_workbook(io.BytesIO(download(client, "standings", "xlsx"))).active
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("finished_at") + 1)
    assert cell.is_date and cell.value == local(finished.finished_at).replace(tzinfo=None, microsecond=0)
