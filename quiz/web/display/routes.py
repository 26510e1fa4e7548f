"""Big screens: the city board at /display, one district at /display/<code>, the unit
board at /display/units (?district=<code> for one district's units).

The page is complete without JavaScript; display.js then keeps it live from
/display/events (Server-Sent Events fed by Redis pub/sub, so any app host sees
results submitted on any other) or, failing that, by polling /display/data.

While the contest is frozen (quiz/freeze.py) every display shows the frozen boards with
a 已封榜 notice, and a stream forwards no result message (only heartbeats) until an
"unfreeze" message: docs/leaderboard.md, "The freeze".

A stream holds one of a worker's connections (GUNICORN_WORKER_CONNECTIONS) for minutes,
so a worker serves at most DISPLAY_STREAMS_PER_WORKER of them at once and answers
503 with Retry-After beyond that; the page then polls /display/data instead.
"""
import json
import threading
import time
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, stream_with_context, url_for

from quiz import figures, freeze, groups, leaderboard, units
from quiz.auth import public
from quiz.clock import SHANGHAI, utcnow
from quiz.extensions import db
from quiz.redis_connection import Unavailable, fail_open
from quiz.web.contest_cache import requested_contest_cached
from quiz.web.display.invite import invitation

bp = Blueprint("display", __name__, url_prefix="/display")

TOP_N = 20
NOTICE_UNAVAILABLE = "排行榜暂时不可用，成绩均已安全保存"
NOTICE_NO_CONTEST = "目前没有竞赛"
# Comment lines keep proxies from closing an idle stream, and a write to a client that went
# away fails on the second one after it left: every 2 s frees its slot within 5 s.
HEARTBEAT_S = 2.0
STREAM_S = 300.0  # then the stream ends so the gunicorn thread is recycled; EventSource reconnects
MIN_GAP_S = 1.0  # at most one snapshot a second, however many results arrive
RETRY_MS = 3000
NO_EVENTS_RETRY_MS = 15000  # without pub/sub (Redis away, no contest): reconnect this much later
FULL_RETRY_AFTER_S = 60  # a 503 for a full worker: display.js polls and reopens about this much later
NOTICE_STREAMS_FULL = "实时推送连接已满，大屏将每 5 秒刷新一次数据。"


class StreamSlots:
    """The display streams one worker process holds, at most `limit` at once.

    A plain counter under a lock (gevent patches threading's lock into a greenlet one;
    with gthread it is a thread lock); each slot is given back exactly once.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.open = 0

    def take(self, limit: int):
        """A release function for a new slot, or None when `limit` are open."""
        with self._lock:
            if self.open >= limit:
                return None
            self.open += 1
        released = []

        def release():
            with self._lock:
                if not released:
                    released.append(True)
                    self.open -= 1

        return release


@bp.record_once
def _stream_slots(state):
    state.app.extensions["display_streams"] = StreamSlots()


def minutes_seconds(ms: int) -> str:
    """Time used as every page shows it (quiz.figures.time_used_text: m:ss, nearest second)."""
    return figures.time_used_text(ms)


def shanghai_time(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def public_view(contest) -> datetime | None:
    """The as_of of the public boards now: freeze_at while frozen, else None (live)."""
    return freeze.frozen_at(contest, utcnow()) if contest is not None else None


def frozen_display(as_of: datetime | None) -> dict:
    return leaderboard.frozen_fields(as_of) | {"frozen_notice": freeze.public_notice(as_of) if as_of else None}


def snapshot(contest, district: str | None, as_of: datetime | None = None, group: str | None = None) -> dict:
    """What a display shows, as the page renders it and the JSON/SSE endpoints send it; as_of
    (public_view) is the freeze instant while frozen; `group`: a contest group's board and
    counts (quiz/groups.py) instead of the city's."""
    if contest is None:
        return {"available": False, "notice": NOTICE_NO_CONTEST, "title": "公民科学素质网络大赛",
                "district": None, "group": None, "top": [], "districts": [], "participants": None, "attempts": None,
                "updated_at": None, "rank_by": None, "rank_by_label": None} | frozen_display(None)
    names = contest.district_names()
    body = {"available": True, "notice": None, "title": contest.title,
            "district": {"code": district, "name": names[district]} if district else None,
            "group": {"code": group, "name": groups.names(contest)[group]} if group else None,
            "rank_by": leaderboard.rank_by(contest), "rank_by_label": leaderboard.RANK_BY_LABELS[leaderboard.rank_by(contest)]}
    body |= frozen_display(as_of)
    try:
        board = leaderboard.top(contest, district, TOP_N, as_of=as_of, group=group)
        rows = units.district_standings(db.session, contest, as_of)
        counts = leaderboard.totals(contest, district, as_of, group=group)
    except leaderboard.Unavailable:
        return body | {"available": False, "notice": NOTICE_UNAVAILABLE, "top": [], "districts": [],
                       "participants": None, "attempts": None, "updated_at": None}
    body["top"] = [entry | {"district_name": names.get(entry["district"], entry["district"]),
                            "time_used": minutes_seconds(entry["time_used_ms"])}
                   for entry in board["entries"]]
    body["districts"] = [row | {"current": row["code"] == district,  # 平均分 as text: "—" without participants
                                "average_score_text": figures.board_average_text(row)}
                         for row in rows]
    body["participants"] = counts["participants"]
    body["attempts"] = counts["attempts"]
    body["updated_at"] = shanghai_time(counts["updated_at"])
    return body


def _contest_and_district(code: str | None):
    """The current contest and a known district code; 404 for an unknown district."""
    contest = requested_contest_cached(db.session)
    if code is not None and (contest is None or code not in contest.district_names()):
        abort(404)
    if contest is not None:
        leaderboard.catch_up(db.session, contest)
    return contest, code


def _page(code: str | None):
    contest, district = _contest_and_district(code)
    group = _group_arg(contest, district)
    query = ({"district": district} if district else {}) | ({"group": group} if group else {})
    response = current_app.make_response(render_template(
        "display/board.html", snap=snapshot(contest, district, public_view(contest), group),
        data_url=url_for("display.data", **query), events_url=url_for("display.events", **query),
        invite=invitation(),
    ))
    response.headers["Cache-Control"] = "no-store"
    return response  # CSP (with DISPLAY_FRAME_ANCESTORS) comes from quiz.web.security


@bp.get("")
@public
def city():
    return _page(None)


@bp.get("/units")
@public
def unit_board():
    """The unit board (the listed units, of one district with ?district=), refreshed every 30 s
    by the page itself: no script needed."""
    contest, district = _contest_and_district(_district_arg())
    as_of = public_view(contest)
    rows = json.loads(units.unit_board_json(db.session, contest, district, as_of))["units"] if contest else []
    names = contest.district_names() if contest else {}
    response = current_app.make_response(render_template(
        "display/units.html", contest=contest, rows=rows, district_names=names, frozen=frozen_display(as_of),
        district={"code": district, "name": names[district]} if district else None))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/poster")
@public
def poster():
    """The printable A4 扫码参赛 poster of the city, or of one district with ?district=<code>;
    an unknown district is a 404 page that names it and lists the known ones."""
    code = _district_arg()
    contest = requested_contest_cached(db.session)
    names = contest.district_names() if contest is not None else {}
    known = code is None or code in names
    response = current_app.make_response((render_template(
        "display/poster.html", contest=contest, names=names, code=code, known=known,
        district={"code": code, "name": names[code]} if code and known else None,
        keep={k: v for k, v in request.args.items() if k != "district"},  # ?contest=, ?group=
        invite=invitation()), 200 if known else 404))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<code>")
@public
def district(code):
    return _page(code)


def _district_arg() -> str | None:
    return request.args.get("district") or None


def _group_arg(contest, district: str | None) -> str | None:
    """?group=<code>: a group of the contest (quiz/groups.py); 404 for an unknown one, or
    with a district (a group's board is city-wide)."""
    group = request.args.get("group") or None
    if group is not None and (group not in groups.codes(contest) or district is not None):
        abort(404)
    return group


@bp.get("/data")
@public
def data():
    """The polling fallback: the same snapshot as the page, as JSON."""
    contest, district = _contest_and_district(_district_arg())
    response = jsonify(snapshot(contest, district, public_view(contest), _group_arg(contest, district)))
    response.headers["Cache-Control"] = "no-store"
    return response


def _event(snap: dict) -> str:
    return "event: snapshot\ndata: " + json.dumps(snap, ensure_ascii=False, separators=(",", ":")) + "\n\n"


def _streams_full():
    response = current_app.response_class(NOTICE_STREAMS_FULL, status=503, mimetype="text/plain")
    response.headers["Retry-After"] = str(FULL_RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/events")
@public
def events():
    """Server-Sent Events: a snapshot now, then after results (coalesced), heartbeats, and an end.
    503 with Retry-After when this worker already holds DISPLAY_STREAMS_PER_WORKER streams."""
    release = current_app.extensions["display_streams"].take(current_app.config["DISPLAY_STREAMS_PER_WORKER"])
    if release is None:
        return _streams_full()
    try:
        response = _stream_response(release)
    except BaseException:
        release()
        raise
    response.call_on_close(release)  # also when the stream never started (the client left at once)
    return response


def _stream_response(release):
    contest, district = _contest_and_district(_district_arg())
    group = _group_arg(contest, district)
    config = current_app.config
    heartbeat = config.get("DISPLAY_HEARTBEAT_S", HEARTBEAT_S)
    lifetime = config.get("DISPLAY_STREAM_S", STREAM_S)
    db.session.close()  # the stream needs no SQL: give the connection back for its whole life
    try:
        pubsub = leaderboard.subscribe(contest) if contest is not None else None
    except leaderboard.Unavailable:
        pubsub = None

    revealed = []  # an "unfreeze" message arrived: this stream's contest copy predates it

    def view():
        return None if revealed else public_view(contest)

    def stream():
        # Without pub/sub (Redis away, no contest): one snapshot with the notice; reconnect later.
        if pubsub is None:
            try:
                yield f"retry: {NO_EVENTS_RETRY_MS}\n\n" + _event(snapshot(contest, district, view(), group))
            finally:
                release()
            return
        try:
            sent_view = view()
            yield f"retry: {RETRY_MS}\n\n" + _event(snapshot(contest, district, sent_view, group))
            started = last_sent = last_beat = time.monotonic()
            dirty = False
            while True:
                now = time.monotonic()
                if now - started >= lifetime:
                    return
                if view() != sent_view:
                    dirty = True  # the freeze began (or ended): show the notice at once
                if dirty and now - last_sent >= MIN_GAP_S:
                    sent_view = view()
                    yield _event(snapshot(contest, district, sent_view, group))
                    last_sent = last_beat = time.monotonic()
                    dirty = False
                    continue
                wake = min(started + lifetime, last_beat + heartbeat, last_sent + MIN_GAP_S if dirty else float("inf"))
                if contest.freeze_at is not None and sent_view is None and not revealed:
                    wake = min(wake, time.monotonic() + max(0.0, (contest.freeze_at - utcnow()).total_seconds()))
                try:
                    with fail_open("display events"):
                        message = pubsub.get_message(timeout=max(0.0, wake - now))
                except Unavailable:
                    yield _event(snapshot(contest, district, view(), group))  # shows the notice
                    return
                if message is not None:
                    if message.get("data") == b"unfreeze":
                        revealed.append(True)
                    # While frozen a result changes nothing shown: not even a message's timing leaks.
                    dirty = dirty or message.get("data") != b"result" or view() is None
                elif time.monotonic() - last_beat >= heartbeat:
                    yield ": heartbeat\n\n"
                    last_beat = time.monotonic()
        finally:  # the client left (a write failed), the stream ended or the worker stops
            pubsub.close()
            release()

    response = Response(stream_with_context(stream()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response
