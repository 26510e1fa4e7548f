"""flask export results|districts: the console's exports written to a file.

The CLI is trusted (it runs with the server's own database credentials), so
it writes full phone numbers; the web console masks them for district organizers.
Like every standing, the exports leave out organizer, staff and test accounts.
"""
from pathlib import Path

import click
from flask.cli import AppGroup

from quiz import exports
from quiz.cli_contest import contest_or_current
from quiz.extensions import db
from quiz.i18n import _
from quiz.web.audit import record as audit

export_cli = AppGroup("export", help="Export results and per-district summaries (full phone numbers).")


def _export(kind: str, fmt: str, out: str, slug: str | None, district: str | None) -> None:
    contest = contest_or_current(slug)
    try:
        district = exports.district_filter(contest, district)
    except exports.UnknownDistrict as exc:
        raise click.BadParameter(str(exc), param_hint="'--district'") from None
    rows = exports.rows_for(kind, db.session, contest, district, full_phones=True)
    exports.write_file(fmt, rows, out, title=contest.title)
    audit(db.session, None, "export", f"{kind} {fmt} {contest.slug} district={district or 'all'} -> {Path(out).name}")
    click.echo(_("wrote %(out)s", out=out))


def _options(command):
    command = click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="csv", show_default=True)(command)
    command = click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write")(command)
    command = click.option("--contest", "slug", default=None, help="Contest slug (default: the current contest)")(command)
    command = click.option("--district", default=None, help="Only this district code")(command)
    return command


@export_cli.command("results")
@_options
def export_results(fmt, out, slug, district):
    """One row per timed attempt (not of organizer, staff or test accounts), with full phone numbers."""
    _export("results", fmt, out, slug, district)


@export_cli.command("districts")
@_options
def export_districts(fmt, out, slug, district):
    """Participants per district and per 10,000 residents."""
    _export("districts", fmt, out, slug, district)
