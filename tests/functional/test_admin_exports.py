"""Downloads from the console: streamed CSV and XLSX, phones masked for district organizers, audited."""
import csv
import io
from datetime import timedelta

import pytest
from admin_console import finished_attempt, make_organizer, page_token, sign_in
from conftest import DURING, xlsx_rows
from sqlalchemy import select

from quiz import exports
from quiz.extensions import db
from quiz.models import AuditEntry, Question


@pytest.fixture
def people(contest, citizens):
    question = db.session.scalar(select(Question).where(Question.qid == "achievements-001"))
    made = [citizens.make(district="wujin", name='=HYPERLINK("e.cn")'), citizens.make(district="wujin", name="李四"),
            citizens.make(district="liyang", name="王五")]
    for n, person in enumerate(made):
        finished_attempt(contest, person, DURING + timedelta(minutes=n), [(question, list(question.answer), 10)])
    return made


def download(client, kind, fmt, district=""):
    token = page_token(client.get("/admin/exports").get_data(as_text=True))
    response = client.post("/admin/exports", data={"csrf_token": token, "kind": kind, "fmt": fmt, "district": district})
    assert response.status_code == 200
    assert response.is_streamed
    return response


def test_city_organizer_downloads_csv_with_full_phones(client, people):
    organizer = make_organizer("city")
    sign_in(client, organizer)
    response = download(client, "results", "csv")
    assert response.mimetype == "text/csv"
    assert 'filename="cz-2021-3rd-results.csv"' in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == exports.RESULT_HEADER and len(rows) == 4
    assert [row[2] for row in rows[1:]] == [p.phone for p in people]
    assert rows[1][1] == '\'=HYPERLINK("e.cn")'

    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry.actor == organizer.phone and entry.detail == "results csv cz-2021-3rd district=all phones=full"
    audit_page = client.get("/admin/audit").get_data(as_text=True)
    assert "results csv cz-2021-3rd" in audit_page


def test_district_organizer_downloads_xlsx_of_their_district_masked(client, people):
    sign_in(client, make_organizer("district", "wujin"))
    response = download(client, "results", "xlsx", district="liyang")  # another district is ignored
    assert response.mimetype == exports.MIMETYPES["xlsx"]
    rows = xlsx_rows(io.BytesIO(response.get_data()))
    assert rows[0] == exports.RESULT_HEADER and len(rows) == 3
    assert [row[2] for row in rows[1:]] == [p.phone[:3] + "****" + p.phone[-4:] for p in people[:2]]
    assert rows[1][1] == '\'=HYPERLINK("e.cn")'
    detail = db.session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "export"))
    assert detail == "results xlsx cz-2021-3rd district=wujin phones=masked"


def test_district_summary_download(client, people):
    sign_in(client, make_organizer("city"))
    data = download(client, "districts", "csv").get_data()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == exports.DISTRICT_HEADER
    assert {row[0]: row[3] for row in rows[1:]}["wujin"] == "2"
