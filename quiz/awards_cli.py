"""flask awards assign|eligible|draw|publish: prizes from the command line (docs/awards.md).

The CLI is trusted (it runs with the server's own credentials); still, the draw prints
masked names and phones, since its output is meant to be read out and published.
"""
import csv

import click
from flask.cli import AppGroup

from quiz import awards
from quiz.accounts import mask_name, mask_phone
from quiz.cli_contest import named_contest
from quiz.clock import utcnow
from quiz.extensions import db
from quiz.i18n import _

awards_cli = AppGroup("awards", help="Prizes: assign the ranked tiers, draw, publish (公示).")


def _refused(exc: awards.AwardsRefused):
    return click.ClickException(exc.message)


@awards_cli.command("assign")
@click.argument("slug")
def awards_assign(slug):
    """Store the ranked and per-district prizes of SLUG (after ends_at); repeatable."""
    contest = named_contest(slug)
    try:
        outcome = awards.assign(db.session, contest, utcnow())
    except awards.AwardsRefused as exc:
        raise _refused(exc) from None
    for tier, count in outcome.per_tier:
        click.echo(_("%(tier)s (%(rule)s): %(count)s people", tier=tier["name"], rule=awards.tier_rule(tier), count=count))
    click.echo(_("%(slug)s: awards assigned, %(count)s change(s)", slug=slug, count=outcome.changed) if outcome.changed
               else _("%(slug)s: awards assigned, the same as last time", slug=slug))


@awards_cli.command("eligible")
@click.argument("slug")
@click.option("--tier", required=True, help="the draw tier's name, e.g. 幸运奖")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="CSV to publish before the draw: user_id, masked name, district, score")
def awards_eligible(slug, tier, out):
    """Write the draw's eligible list (ascending user id) and print its count and SHA-256."""
    contest = named_contest(slug)
    try:
        pool = awards.eligible(db.session, contest, tier)
    except awards.AwardsRefused as exc:
        raise _refused(exc) from None
    names = contest.district_names()
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["user_id", "name", "district", "score"])
        for uid, row in pool.standings.items():
            writer.writerow([uid, mask_name(row.name), names.get(row.district, row.district or ""), row.score])
    click.echo(f"eligible: {len(pool.standings)}")
    click.echo(f"eligible_sha256: {pool.sha256}")
    click.echo(_("wrote %(out)s", out=out))


@awards_cli.command("draw")
@click.argument("slug")
@click.option("--tier", required=True, help="the draw tier's name, e.g. 幸运奖")
@click.option("--seed", required=True, help="the seed announced in advance, e.g. a lottery result")
def awards_draw(slug, tier, seed):
    """Draw TIER of SLUG with SEED (docs/awards.md); the same seed again prints the same winners."""
    contest = named_contest(slug)
    try:
        result = awards.draw(db.session, contest, tier, seed, utcnow())
    except awards.AwardsRefused as exc:
        raise _refused(exc) from None
    names = contest.district_names()
    click.echo(f"tier: {tier}")
    click.echo(f"seed: {result.draw.seed}")
    click.echo(f"eligible: {result.draw.eligible_count}")
    click.echo(f"eligible_sha256: {result.draw.eligible_sha256}")
    click.echo(f"winners: {len(result.winners)}")
    for award in result.winners:
        user = award.user
        click.echo(f"{award.position}\t{user.id}\t{mask_name(user.name)}\t{mask_phone(user.phone)}\t"
                   f"{names.get(user.district, user.district or '')}")
    if result.repeated:
        click.echo(_("(drawn before: the same result as last time, nothing changed)"))


@awards_cli.command("publish")
@click.argument("slug")
def awards_publish(slug):
    """Publish the winners list of SLUG (公示): /awards shows it and objections open."""
    contest = named_contest(slug)
    try:
        awards.publish(db.session, contest, utcnow())
    except awards.AwardsRefused as exc:
        raise _refused(exc) from None
    click.echo(_("%(slug)s: the winners are published; objections are open for %(days)s days", slug=slug,
                 days=contest.objection_days))
