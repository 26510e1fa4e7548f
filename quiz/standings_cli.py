"""flask standings export, flask review flags|disqualify|reinstate: thin wrappers over
quiz.exports (the standings kind), quiz.review and quiz.disqualification.

The CLI is trusted (the server's own database credentials): full phone numbers and
full addresses. Its actions are audited with the actor "cli".
"""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from quiz import exports, review
from quiz.accounts import AccountError, normalize_phone
from quiz.cli_contest import contest_or_current
from quiz.clock import utcnow
from quiz.disqualification import DisqualificationError, disqualify, reinstate
from quiz.extensions import db
from quiz.i18n import _
from quiz.models import User
from quiz.web.audit import record as audit

standings_cli = AppGroup("standings", help="Final standings: one row per citizen, their best attempt.")
review_cli = AppGroup("review", help="Review flags, and disqualifying or reinstating a citizen.")


def _contest_option(command):
    return click.option("--contest", "slug", default=None, help="Contest slug (default: the current contest)")(command)


@standings_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="csv", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write")
@_contest_option
def export_standings(fmt, out, slug):
    """rank, name, phone (full), district, township, unit, group, score, time_used_ms, finished_at, attempts."""
    contest = contest_or_current(slug)
    exports.write_file(fmt, exports.standing_rows(db.session, contest, full_phones=True), out, title=contest.title)
    audit(db.session, None, "export", f"standings {fmt} {contest.slug} district=all -> {Path(out).name}")
    click.echo(_("wrote %(out)s", out=out))


@review_cli.command("flags")
@_contest_option
def show_flags(slug):
    """Print the review flags (they never act by themselves)."""
    contest = contest_or_current(slug)
    flags = review.review_flags(db.session, contest, utcnow(), review.ReviewSettings.from_config(current_app.config))
    for flag in flags:
        people = ", ".join(f"{c.name} {c.phone} (id {c.user_id})" for c in flag.citizens)
        click.echo(f"[{review.KIND_NAMES[flag.kind]}] {flag.evidence}\n    {people}")
    click.echo(_("%(count)s flag(s)", count=len(flags)))


def _citizen(phone: str) -> User:
    try:
        phone = normalize_phone(phone)
    except AccountError as exc:
        raise click.ClickException(exc.message) from None
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        raise click.ClickException(_("no citizen with phone %(phone)s", phone=phone))
    return user


def _act(action, phone: str, reason: str, slug: str | None, done: str) -> None:
    contest = contest_or_current(slug)
    user = _citizen(phone)
    try:
        outcome = action(db.session, contest, user, reason, None)
    except DisqualificationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.name} {user.phone}: {done} ({contest.slug})")
    if not outcome.boards_rebuilt:
        click.echo(_("The boards cannot be updated now; run flask leaderboard rebuild once Redis is back."), err=True)


@review_cli.command("disqualify")
@click.argument("phone")
@click.option("--reason", required=True, help="Why (kept in the audit log)")
@_contest_option
def disqualify_citizen(phone, reason, slug):
    """Take a citizen out of the contest's boards, standings and draws (reversible)."""
    _act(disqualify, phone, reason, slug, _("disqualified from this contest"))


@review_cli.command("reinstate")
@click.argument("phone")
@click.option("--reason", required=True, help="Why (kept in the audit log)")
@_contest_option
def reinstate_citizen(phone, reason, slug):
    """Lift a citizen's disqualification."""
    _act(reinstate, phone, reason, slug, _("reinstated in this contest"))
