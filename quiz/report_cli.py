"""flask report SLUG --out report.xlsx: the summary report (quiz/report.py) as a workbook,
one sheet per section. Like the exports, audited with no user (the CLI)."""
from pathlib import Path

import click
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from quiz import exports
from quiz.cli_contest import named_contest
from quiz.clock import utcnow
from quiz.extensions import db
from quiz.i18n import _
from quiz.report import PERCENT, report_sheets, summary_report
from quiz.web.audit import record as audit


@click.command("report")
@click.argument("slug")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="The .xlsx file to write")
@click.option("--district", default=None, help="Only this district code (default: the whole city)")
def report_command(slug, out, district):
    """Write the summary report of contest SLUG (per day, district, unit, scores, questions, awards)."""
    contest = named_contest(slug)
    try:
        district = exports.district_filter(contest, district)
    except exports.UnknownDistrict as exc:
        raise click.BadParameter(str(exc), param_hint="'--district'") from None
    write_workbook(report_sheets(summary_report(db.session, contest, utcnow(), district)), out)
    audit(db.session, None, "export", f"report xlsx {contest.slug} district={district or 'all'} -> {Path(out).name}")
    click.echo(_("wrote %(out)s", out=out))


def write_workbook(sheets, path: str) -> None:
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        page = book.create_sheet(sheet.name)
        for row in sheet.rows:
            page.append([exports.safe_cell(value) for value in row])
        page.freeze_panes = "A2"
        for column in sheet.percent_columns:
            for cell in page[get_column_letter(column + 1)][1:]:
                cell.number_format = PERCENT
        for column, width in enumerate(_widths(sheet.rows), 1):
            page.column_dimensions[get_column_letter(column)].width = width
    book.save(path)


def _widths(rows) -> list[int]:
    """Column widths that fit the longest cell (Chinese characters count twice), at most 60."""
    widths: list[int] = []
    for row in rows:
        for i, value in enumerate(row):
            text = "" if value is None else str(value)
            width = min(60, sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) + 2)
            if i >= len(widths):
                widths.append(width)
            else:
                widths[i] = max(widths[i], width)
    return widths
