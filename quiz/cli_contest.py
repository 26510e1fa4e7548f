"""The contest a command names: one lookup and one message for every CLI group."""
import click
from sqlalchemy import select

from quiz.clock import utcnow
from quiz.contest.rules import current_contest
from quiz.extensions import db
from quiz.i18n import _
from quiz.models import Contest


def named_contest(slug: str) -> Contest:
    """The contest SLUG, or the command stops with 没有竞赛 SLUG (exit 1)."""
    contest = db.session.scalar(select(Contest).where(Contest.slug == slug))
    if contest is None:
        raise click.ClickException(_("no contest %(slug)s", slug=slug))
    return contest


def contest_or_current(slug: str | None) -> Contest:
    """The contest SLUG, or without one the current contest (rules.current_contest)."""
    if slug:
        return named_contest(slug)
    contest = current_contest(db.session, utcnow())
    if contest is None:
        raise click.ClickException(_("no contest"))
    return contest
