"""排行榜 for citizens' phones (/board): the top 100 of the city or of one district
(?district=<code>, switched by plain links), and the logged-in citizen's own standing.

It shows what the displays show: the same public view (quiz.web.display.routes.public_view:
the boards at the freeze while frozen, with the same 已封榜 notice) read through the
shared cache of leaderboard.top_json, so thousands of phones cost the board one read a
LEADERBOARD_CACHE_MS. Other query arguments (?contest=, ?group=) ride along on the links.
"""
import json

from flask import render_template, request, url_for
from flask_login import current_user

from quiz import leaderboard
from quiz.extensions import db
from quiz.web.contest_cache import requested_contest_cached
from quiz.web.display.routes import NOTICE_UNAVAILABLE, frozen_display, minutes_seconds, public_view

BOARD_N = 100


def own_standing(contest, as_of) -> dict | None:
    """The logged-in citizen's {best, rank} on the public view, {"unavailable": True} when Redis is
    away, None for a visitor or an organizer (no place on the boards)."""
    if contest is None or not current_user.is_authenticated or not leaderboard.on_public_boards(current_user):
        return None
    try:
        mine = leaderboard.standing(contest, current_user, as_of)
    except leaderboard.Unavailable:
        return {"unavailable": True}
    if mine["best"] is not None:
        mine["best"] = mine["best"] | {"time_used": minutes_seconds(mine["best"]["time_used_ms"])}
    return mine


def switch_links(names: dict[str, str], current: str | None) -> list[dict]:
    """全市 and each district, keeping the page's other query arguments."""
    keep = {k: v for k, v in request.args.items() if k != "district"}
    links = [{"code": None, "name": "全市", "url": url_for("citizen.board", **keep), "current": current is None}]
    links += [{"code": code, "name": name, "url": url_for("citizen.board", district=code, **keep),
               "current": code == current} for code, name in names.items()]
    return links


def board_page(code: str | None):
    """The page, or a 404 page naming the unknown district code."""
    contest = requested_contest_cached(db.session)
    names = contest.district_names() if contest is not None else {}
    if code is not None and code not in names:
        return render_template("citizen/board.html", contest=contest, unknown=code, links=switch_links(names, None),
                               district=None, entries=[], total=None, mine=None, notice=None,
                               frozen=frozen_display(None)), 404
    as_of = None
    entries, total, notice = [], None, None
    if contest is not None:
        leaderboard.catch_up(db.session, contest)
        as_of = public_view(contest)
        try:
            board = json.loads(leaderboard.top_json(contest, code, BOARD_N, as_of=as_of))
        except leaderboard.Unavailable:
            notice = NOTICE_UNAVAILABLE
        else:
            total = board["total"]
            entries = [entry | {"district_name": names.get(entry["district"], entry["district"]),
                                "time_used": minutes_seconds(entry["time_used_ms"])} for entry in board["entries"]]
    mine = own_standing(contest, as_of)
    return render_template("citizen/board.html", contest=contest, unknown=None, links=switch_links(names, code),
                           district={"code": code, "name": names[code]} if code else None, entries=entries,
                           total=total, mine=mine, notice=notice, frozen=frozen_display(as_of),
                           own_district=names.get(current_user.district) if mine else None)
