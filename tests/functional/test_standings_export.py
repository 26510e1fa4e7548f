"""The final standings export (issue 16): one row per citizen, from the CLI and the console."""
import csv
import io
from datetime import timedelta

import pytest
from admin_console import make_organizer, page_token, sign_in
from conftest import DURING, finish_attempt, xlsx_rows
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import AuditEntry

HEADER = ("rank", "name", "phone", "district", "township", "unit", "group", "score", "time_used_ms",
          "finished_at", "attempts")


@pytest.fixture
def example(contest, citizens):
    """Three citizens: a wujin one with a township, a unit and a formula-like name, who
    answers once; a xinbei one with two attempts (the better counts); a slower wujin one."""
    contest.townships = {"wujin": [{"code": "hutang", "name": "湖塘镇"}]}
    first = citizens.make(district="wujin", name="=SUM(A1)", group="青少年")
    first.township, first.unit = "hutang", "湖塘实验中学"
    twice = citizens.make(district="xinbei", name="李四")
    slow = citizens.make(district="wujin", name="王五")
    db.session.commit()
    finish_attempt(first, contest, right=18, seconds=100, now=DURING)  # 90 points, 10:01:40 Shanghai
    finish_attempt(twice, contest, right=10, seconds=50, now=DURING)
    finish_attempt(twice, contest, right=16, seconds=200, now=DURING + timedelta(days=1))  # 80 points
    finish_attempt(slow, contest, right=16, seconds=300, now=DURING)
    return first, twice, slow


def expected(people, phones):
    first, twice, slow = people
    return [
        HEADER,
        ("1", "'=SUM(A1)", phones(first), "武进区", "湖塘镇", "湖塘实验中学", "青少年", "90", "100000",
         "2021-05-23 10:01:40", "1"),
        ("2", "李四", phones(twice), "新北区", "", "", "", "80", "200000", "2021-05-24 10:03:20", "2"),
        ("3", "王五", phones(slow), "武进区", "", "", "", "80", "300000", "2021-05-23 10:05:00", "1"),
    ]


def full(person):
    return person.phone


def masked(person):
    return person.phone[:3] + "****" + person.phone[-4:]


def test_cli_writes_the_standings_as_csv_with_a_bom(runner, contest, example, tmp_path):
    out = tmp_path / "standings.csv"
    result = runner.invoke(args=["standings", "export", "--format", "csv", "--out", str(out), "--contest", contest.slug])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = [tuple(row) for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))]
    assert rows == expected(example, full)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry.actor == "cli" and entry.detail.startswith(f"standings csv {contest.slug}")


def test_cli_writes_xlsx_with_the_same_cells(runner, contest, example, tmp_path):
    out = tmp_path / "standings.xlsx"
    result = runner.invoke(args=["standings", "export", "--format", "xlsx", "--out", str(out)])  # the current contest
    assert result.exit_code == 0, result.output
    rows = [tuple("" if v is None else str(v) for v in row) for row in xlsx_rows(out)]
    assert rows == expected(example, full)


def download(client, fmt, district=""):
    token = page_token(client.get("/admin/exports").get_data(as_text=True))
    response = client.post("/admin/exports", data={"csrf_token": token, "kind": "standings", "fmt": fmt,
                                                   "district": district})
    assert response.status_code == 200
    assert response.is_streamed
    return response


def test_city_organizer_downloads_the_standings_with_full_phones(client, example):
    sign_in(client, make_organizer("city"))
    assert "最终排名" in client.get("/admin/exports").get_data(as_text=True)
    response = download(client, "csv")
    assert 'filename="cz-2021-3rd-standings.csv"' in response.headers["Content-Disposition"]
    rows = [tuple(row) for row in csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")))]
    assert rows == expected(example, full)


def test_district_organizer_gets_their_district_with_masked_phones(client, example):
    organizer = make_organizer("district", "wujin")
    sign_in(client, organizer)
    response = download(client, "xlsx", district="xinbei")  # another district is ignored
    rows = [tuple("" if v is None else str(v) for v in row) for row in xlsx_rows(io.BytesIO(response.get_data()))]
    everyone = expected(example, masked)
    assert rows == [everyone[0], everyone[1], everyone[3]]  # their city ranks, 1 and 3
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry.actor == organizer.phone and entry.detail == "standings xlsx cz-2021-3rd district=wujin phones=masked"
