"""Result and district exports as CSV and XLSX, streamed row by row.

Rows come from the database in batches (yield_per) and leave as they are
written, so 200,000 results fit in a small server's memory. Every text cell
that a spreadsheet would read as a formula is defused with a leading quote.
Phones are masked unless the caller says the reader may see them (city
organizers and the trusted CLI). Both exports are standings: the attempts of
organizers and of accounts marked staff or test are left out (leaderboard.public_accounts).
The final standings (one row per citizen) are quiz.standings.final_standings as a table.
"""
import csv
import io
import itertools
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from xml.sax.saxutils import escape

from sqlalchemy import select

from quiz import figures, groups
from quiz.accounts import mask_phone
from quiz.clock import local
from quiz.i18n import _
from quiz.leaderboard import public_accounts
from quiz.models import ATTEMPT_ACTIVE, Attempt, Contest, User
from quiz.standings import final_standings
from quiz.stats import district_figures

BATCH = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STATUS_NAMES = figures.STATUS_NAMES
DATETIME_TEXT = "%Y-%m-%d %H:%M:%S"  # CSV cells; XLSX cells are real date-times in this format

RESULT_HEADER = ("答题编号", "姓名", "手机号", "区县", "人群", "工作单位或学校", "开始时间", "交卷时间", "得分", "满分", "答对题数", "题数", "用时（秒）", "状态")
DISTRICT_HEADER = ("区县代码", "区县", "常住人口", "参与人数", "每万人参与人数", "答题次数", "平均分")
# The names issue 16 gives the columns (machine-readable: the awards and the report read them back).
STANDINGS_HEADER = ("rank", "name", "phone", "district", "township", "unit", "group", "score", "time_used_ms",
                    "finished_at", "attempts")

KINDS = ("results", "districts", "standings")
FORMATS = ("csv", "xlsx")
MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def safe_cell(value):
    """Defuse spreadsheet formulas: text starting with = + - @ tab or CR gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def result_rows(session, contest: Contest, district: str | None = None, full_phones: bool = False) -> Iterator[tuple]:
    """The header, then one row per timed attempt of the contest (practice, staff, test and
    organizer accounts excluded), oldest first."""
    names = contest.district_names()
    group_names = groups.names(contest)  # a contest with groups: the attempt's group, by its name
    yield RESULT_HEADER
    query = (
        select(Attempt.id, User.name, User.phone, User.district,
               (Attempt.group if group_names else User.group).label("group"), User.unit,
               Attempt.started_at, Attempt.finished_at, Attempt.score, Attempt.max_score,
               Attempt.correct_count, Attempt.question_count, Attempt.time_used_ms, Attempt.status)
        .join(User, User.id == Attempt.user_id)
        .where(Attempt.contest_id == contest.id, Attempt.practice.is_(False), *public_accounts())
        .order_by(Attempt.id)
        .execution_options(yield_per=BATCH)
    )
    if district is not None:
        query = query.where(User.district == district)
    for number, row in enumerate(session.execute(query), 1):
        if number % BATCH == 0:
            # A long export is CPU work: let the worker's other requests (greenlets) and
            # its heartbeat run between batches.
            time.sleep(0)
        finished = row.status != ATTEMPT_ACTIVE
        yield (
            row.id, row.name, row.phone if full_phones else mask_phone(row.phone),
            names.get(row.district, row.district or ""), group_names.get(row.group, row.group or ""), row.unit or "",
            wall_time(row.started_at), wall_time(row.finished_at) if row.finished_at else "",
            row.score if finished else "", row.max_score if finished else "",
            row.correct_count if finished else "", row.question_count,
            figures.time_used_seconds(row.time_used_ms) if row.time_used_ms is not None else "",
            figures.status_name(row.status),
        )


def district_rows(session, contest: Contest, district: str | None = None) -> Iterator[tuple]:
    """The header, then each district: quiz.figures' 参与人数, 人次 and 平均分 ("—" without participants)."""
    yield DISTRICT_HEADER
    for figure in district_figures(session, contest, district):
        yield (figure.code, figure.name, figure.population, figure.participants, round(figure.per_10k, 2),
               figure.attempts, figure.mean_score if figure.mean_score is not None else figures.NO_DATA)


def standing_rows(session, contest: Contest, district: str | None = None, full_phones: bool = False) -> Iterator[tuple]:
    """The header, then one row per counted citizen in rank order (quiz.standings.final_standings):
    districts and townships by their names in the contest file, finished_at in Asia/Shanghai."""
    names = contest.district_names()
    townships = {(code, t["code"]): t["name"] for code, listed in (contest.townships or {}).items() for t in listed}
    yield STANDINGS_HEADER
    for number, row in enumerate(final_standings(session, contest, district), 1):
        if number % BATCH == 0:
            time.sleep(0)  # as in result_rows: let the worker's other requests run
        yield (
            row.rank, row.name, row.phone if full_phones else mask_phone(row.phone),
            names.get(row.district, row.district or ""), townships.get((row.district, row.township), row.township or ""),
            row.unit or "", row.group or "", row.score, row.time_used_ms,
            wall_time(row.finished_at), row.attempts,
        )


def wall_time(moment: datetime) -> datetime:
    """A stored naive-UTC instant as a naive Asia/Shanghai date-time, to the second: what a
    spreadsheet cell holds (CSV writes it as DATETIME_TEXT)."""
    return local(moment).replace(tzinfo=None, microsecond=0)


def rows_for(kind: str, session, contest: Contest, district: str | None, full_phones: bool) -> Iterator[tuple]:
    if kind == "results":
        return result_rows(session, contest, district, full_phones)
    if kind == "districts":
        return district_rows(session, contest, district)
    if kind == "standings":
        return standing_rows(session, contest, district, full_phones)
    raise ValueError(f"unknown export {kind}")


def csv_chunks(rows: Iterable[tuple], rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so Excel reads the Chinese), a chunk every rows_per_chunk rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    pending = 0
    for row in rows:
        writer.writerow([value.strftime(DATETIME_TEXT) if isinstance(value, datetime) else safe_cell(value)
                         for value in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_xlsx(rows: Iterable[tuple], path: str, title: str = "导出") -> None:
    """A minimal SpreadsheetML workbook streamed straight into the zip.

    openpyxl's write-only mode makes a Python object per cell, too slow for 200,000 rows
    (docs/benchmarks.md); writing the sheet XML ourselves keeps one chunk of rows in
    memory. Tests read the files back with openpyxl.

    The header row is bold and frozen (it stays in view while scrolling); the column widths
    fit the header and the first WIDTH_SAMPLE rows; date-times are date-time cells.
    """
    rows = iter(rows)
    sample = list(itertools.islice(rows, WIDTH_SAMPLE))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        for name, content in _XLSX_PARTS.items():
            book.writestr(name, content.replace("{title}", _xml_text(title[:31])))
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        b'<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
                        b'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft"/></sheetView></sheetViews>'
                        + _xlsx_cols(sample).encode() + b'<sheetData>')
            pending: list[str] = []
            for number, row in enumerate(itertools.chain(sample, rows), start=1):
                pending.append(_xlsx_row(number, row))
                if len(pending) >= 1000:
                    sheet.write("".join(pending).encode("utf-8"))
                    pending.clear()
            sheet.write("".join(pending).encode("utf-8"))
            sheet.write(b"</sheetData></worksheet>")


WIDTH_SAMPLE = 1000  # rows (the header included) that decide the column widths
MAX_WIDTH = 60
_EXCEL_EPOCH = datetime(1899, 12, 30)
_STYLE_DATETIME, _STYLE_HEADER = 1, 2  # cellXfs of xl/styles.xml


def text_width(value) -> int:
    """How many character widths a cell needs: CJK characters count twice."""
    if isinstance(value, datetime):
        return len(DATETIME_TEXT) + 2  # 2021-05-23 10:00:00
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _xlsx_cols(sample: list[tuple]) -> str:
    widths: list[int] = []
    for row in sample:
        for i, value in enumerate(row):
            if i >= len(widths):
                widths.append(8)
            widths[i] = max(widths[i], min(MAX_WIDTH, text_width(value) + 2))
    if not widths:
        return ""
    return "<cols>" + "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                              for i, w in enumerate(widths, 1)) + "</cols>"


_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_COLUMNS = [chr(65 + i) if i < 26 else chr(64 + i // 26) + chr(65 + i % 26) for i in range(702)]


def _xml_text(value: str) -> str:
    return escape(_ILLEGAL_XML.sub("", value))


def _xlsx_row(number: int, row: tuple) -> str:
    cells = []
    for column, value in zip(_COLUMNS, row, strict=False):
        if value is None or value == "":
            continue  # an empty cell is simply absent
        ref = f"{column}{number}"
        if isinstance(value, bool):
            cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, datetime):
            serial = (value.replace(tzinfo=None) - _EXCEL_EPOCH).total_seconds() / 86400
            cells.append(f'<c r="{ref}" s="{_STYLE_DATETIME}"><v>{serial:.10f}</v></c>')
        elif isinstance(value, int | float):
            cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        else:
            text = _xml_text(str(safe_cell(value)))
            style = f' s="{_STYLE_HEADER}"' if number == 1 else ""
            cells.append(f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '</Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        '</Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="{title}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        '</Relationships>'),
    # cellXfs: 0 plain, 1 date-time (yyyy-mm-dd hh:mm:ss), 2 the bold header
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
}


def xlsx_chunks(rows: Iterable[tuple], title: str = "导出", chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
    """Write the workbook to a temporary file (the zip needs it), then stream and delete it."""
    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="quiz-export-")
    os.close(fd)
    try:
        write_xlsx(rows, path, title)
        with open(path, "rb") as fh:
            while chunk := fh.read(chunk_bytes):
                yield chunk
    finally:
        os.unlink(path)


def chunks(fmt: str, rows: Iterable[tuple], title: str = "导出") -> Iterator[bytes]:
    if fmt == "csv":
        return csv_chunks(rows)
    if fmt == "xlsx":
        return xlsx_chunks(rows, title)
    raise ValueError(f"unknown format {fmt}")


def filename(contest: Contest, kind: str, fmt: str, district: str | None) -> str:
    """ASCII file name: contest slug, kind, district."""
    return "-".join(part for part in (contest.slug, kind, district) if part) + f".{fmt}"


class UnknownDistrict(ValueError):
    """An export was asked for a district the contest does not have."""

    def __init__(self, contest: Contest, district: str):
        super().__init__(_("unknown district %(district)r; the districts of %(contest)s are %(districts)s",
                           district=district, contest=contest.slug, districts=", ".join(contest.district_names())))
        self.district = district


def district_filter(contest: Contest, district: str | None) -> str | None:
    """The district an export is limited to (None: all). Only one of the contest's district
    codes (slugs) is accepted: the code goes into the file name and its HTTP header, where a
    newline or a non-ASCII letter would break the download. Raises UnknownDistrict."""
    if not district:
        return None
    if district not in contest.district_names():
        raise UnknownDistrict(contest, district)
    return district


def write_file(fmt: str, rows: Iterable[tuple], path: str, title: str = "导出") -> None:
    """Write an export to path (the CLI): the same cells as the web download."""
    if fmt == "xlsx":
        write_xlsx(rows, path, title)
        return
    with open(path, "wb") as fh:
        for chunk in csv_chunks(rows):
            fh.write(chunk)
