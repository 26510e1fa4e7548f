"""Which contest a request is about, when several run at once.

Every citizen page is also served under /c/<slug>/… and the contest's API under
/api/v1/contests/<slug>/… (contest, attempts, leaderboard, districts, me, …); the
displays take ?contest=SLUG. The bare paths keep meaning rules.current_contest (the
featured contest, else the open one that started last). The views do not know about
any of this: they ask `requested_contest`, and links they build with url_for stay
inside the contest the request came in by (`_keep_contest`).
"""
from datetime import datetime

from flask import Flask, abort, current_app, g, request
from werkzeug.routing import Rule

from quiz.contest.rules import contest_by_slug, current_contest
from quiz.models import Contest

CITIZEN_PREFIX = "/c/<contest_slug>"
API_PREFIX = "/api/v1/contests/<contest_slug>"
# The API paths (after /api/v1/) that belong to one contest; accounts and staff paths do not.
CONTEST_API_PATHS = ("contest", "attempts", "leaderboard", "districts", "units", "me", "awards", "objections",
                     "auth/register")
NOT_PER_CONTEST = {"citizen.healthz", "citizen.text_size", "citizen.static"}


def install(app: Flask) -> None:
    """Add the per-contest twin of every contest path; call after the blueprints are registered."""
    for rule in list(app.url_map.iter_rules()):
        path = _scoped_path(rule)
        if path is None:
            continue
        for twin in path:
            app.url_map.add(Rule(twin, endpoint=rule.endpoint, methods=rule.methods - {"HEAD", "OPTIONS"},
                                 defaults=rule.defaults, strict_slashes=rule.strict_slashes))
    app.url_value_preprocessor(_take_contest)
    app.url_defaults(_keep_contest)


def _scoped_path(rule: Rule) -> list[str] | None:
    blueprint = rule.endpoint.partition(".")[0]
    if blueprint == "citizen" and rule.endpoint not in NOT_PER_CONTEST:
        return [CITIZEN_PREFIX + rule.rule]
    if blueprint == "api" and rule.rule.startswith("/api/v1/"):
        rest = rule.rule[len("/api/v1/"):]
        if rest == "contest":  # the contest itself: /api/v1/contests/<slug> (and …/<slug>/contest)
            return [API_PREFIX, f"{API_PREFIX}/contest"]
        if rest.split("/")[0] in CONTEST_API_PATHS or rest in CONTEST_API_PATHS:
            return [f"{API_PREFIX}/{rest}"]
    return None


def _take_contest(endpoint: str | None, values: dict | None) -> None:
    if values and "contest_slug" in values:
        g.contest_slug = values.pop("contest_slug")
    elif endpoint and endpoint.startswith("display.") and request.args.get("contest"):
        g.contest_slug = request.args["contest"]


def _keep_contest(endpoint: str, values: dict) -> None:
    slug = g.get("contest_slug")
    if slug is None or "contest_slug" in values:
        return
    if endpoint.startswith("display."):
        values.setdefault("contest", slug)
    elif current_app.url_map.is_endpoint_expecting(endpoint, "contest_slug"):
        values["contest_slug"] = slug


def requested_slug() -> str | None:
    """The slug the request named (/c/<slug>/…, /api/v1/contests/<slug>/…, ?contest= on displays)."""
    return g.get("contest_slug")


def requested_contest(session, now: datetime) -> Contest | None:
    """The contest the request named (404 if there is none by that slug), else the current one."""
    slug = requested_slug()
    if slug is None:
        return current_contest(session, now)
    contest = contest_by_slug(session, slug)
    if contest is None:
        abort(404)
    return contest
