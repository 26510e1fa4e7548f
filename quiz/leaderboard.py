"""Live leaderboards in Redis: the only module that touches these keys.

Every key carries the contest slug as a hash tag, so one contest lives in one
Redis Cluster slot and its Lua scripts and MULTI blocks stay legal there.

| key                                   | type   | content                                          | TTL   |
|---------------------------------------|--------|--------------------------------------------------|-------|
| quiz:{slug}:city                      | zset   | member (finish, first attempt, user id) -> score and time | none |
| quiz:{slug}:d:<district>              | zset   | the same, one per district ("-" = no district)   | none  |
| quiz:{slug}:g:<group>                 | zset   | the same, one per contest group (quiz/groups.py), of the attempts taken in it | none |
| quiz:{slug}:gm:<group>                | hash   | user id -> the citizen's member of that group's board | none |
| quiz:{slug}:members                   | hash   | user id -> the citizen's current member of the boards | none |
| quiz:{slug}:names                     | hash   | user id -> "masked name<TAB>district code"       | none  |
| quiz:{slug}:agg                       | hash   | <district>:participants/attempts/best_sum, all:*, g:<group>:participants/attempts | none |
| quiz:{slug}:recorded                  | set    | attempt ids already counted (idempotence)        | none  |
| quiz:{slug}:dq                        | set    | user ids disqualified in the contest (from SQL)  | none  |
| quiz:{slug}:meta                      | hash   | built_at, updated_at (ms); no built_at = rebuild | none  |
| quiz:{slug}:f:city, f:d:<district>, f:g:<group> | zset | frozen boards: the same of the attempts finished by freeze_at | none |
| quiz:{slug}:f:members, f:gm:<group>, f:names, f:agg | hash | frozen members, names and aggregates | none |
| quiz:{slug}:f:meta                    | hash   | built_at, as_of (the freeze instant, ISO, UTC), updated_at = as_of (ms) | none |
| quiz:{slug}:new:<name>                | any    | a rebuild's fresh keys before the swap (new:f:<name> for frozen ones) | none |
| quiz:{slug}:cache:<name>              | string | serialized JSON shared by all hosts (a bounded set of pages, top_json; units:<district or all> and full-scores of quiz.units); cache:f:<name> for the frozen view | 10 x LEADERBOARD_CACHE_MS |
| quiz:{slug}:cache-lock:<name>         | string | "someone refreshed this copy recently"           | LEADERBOARD_CACHE_MS |
| quiz:{slug}:lock:rebuild              | string | rebuild in progress (token), a renewed lease     | 15 s  |
| quiz:{slug}:events                    | pubsub | "result"/"rebuild"/"unfreeze" messages for the displays | - |

Frozen boards (封榜, quiz/freeze.py): while a contest is frozen every public reader passes
as_of=freeze_at and reads the f: keys. They are built from SQL (the same code as a rebuild,
with a cutoff) on the first such read, under the rebuild lock, and recomputed by every
rebuild while they exist; the record script never writes them, so nothing after freeze_at
reaches them. `drop_frozen` (unfreeze) deletes them.

The order (docs/leaderboard.md proves it): higher score, then less time used (ms), then the
earlier finish, then the earlier first attempt (both in whole seconds after the contest
start), then the smaller user id. A board entry holds it in two parts, read with ZREVRANGE:
    zset score = score * 2**23 + (2**23 - 1 - time_used_ms)          (34 bits: exact in a double)
    member     = "%08d%08d%010d" % (MAX_SECOND - finish_s, MAX_SECOND - first_s, MAX_USER_ID - user_id)
Redis orders equal scores by the member's bytes; fixed-width digits make that the numeric
order, and the inverted values put the earlier second and the smaller id first. Limits,
enforced by the contest validator: score <= 2047, time_limit_s <= 7200, a window of at
most 366 days. A citizen's member changes with their best and their first attempt, so the
members hash says which one is theirs.

Only citizens count: organizer accounts and accounts marked staff or test
(`on_public_boards`, `public_accounts` for SQL) never reach a board or an aggregate,
here or in the console's standings and exports (quiz/stats.py, quiz/exports.py).
Nor do citizens disqualified in the contest (`counted_accounts` for SQL; here the dq set,
which the record script checks, so incremental updates and a rebuild give the same boards).

SQL stays the source of truth: every write here may fail (the caller keeps
going and the attempt is flagged board_pending), and `rebuild` or the
automatic `catch_up` brings Redis back in line with SQL. A board whose meta
has no built_at (a Redis that restarted empty, a contest never shown) is
not trusted: reads raise Unavailable and writes refuse until it is rebuilt.
"""
import contextlib
import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select, update

from quiz import redis_connection
from quiz.accounts import mask_name
from quiz.clock import iso
from quiz.extensions import db
from quiz.models import ATTEMPT_ACTIVE, ROLE_CITIZEN, Attempt, Contest, Disqualification, User
from quiz.redis_connection import Unavailable, fail_open, redis_client

log = logging.getLogger(__name__)

TIME_BITS = 23
SCORE_UNIT = 2**TIME_BITS
MAX_SCORE = 2**11 - 1  # so a zset score stays below 2**34, exact in a double
MAX_TIME_MS = 2**TIME_BITS - 1
SECOND_DIGITS, USER_ID_DIGITS = 8, 10  # the member's fixed-width fields
MAX_SECOND = 10**SECOND_DIGITS - 1  # finish and first attempt, seconds after the start (1157 days)
MAX_USER_ID = 2**31 - 1  # users.id is a PostgreSQL integer
CATCH_UP_EVERY_S = 5.0  # default of LEADERBOARD_CATCH_UP_S
PENDING_SCAN_EVERY_S = 60.0  # SQL scan for board_pending attempts when this process saw no failure
# The rebuild lock is a lease, renewed every third of it while its rebuild runs: a rebuilder
# killed mid-way (a SIGKILLed worker) leaves the boards waiting this long, not minutes.
REBUILD_LOCK_S = 15
NO_DISTRICT = "-"
FROZEN = "f"  # the key part of the frozen boards (quiz.freeze)
FROZEN_WAIT_S = 5.0  # a reader waits this long for another process building the frozen boards



def _key(slug: str, *parts: str) -> str:
    return ":".join(["quiz", "{" + slug + "}", *parts])


def on_public_boards(account) -> bool:
    """Whether an account's results count in public standings: a citizen (not an organizer)
    not marked staff or test. `account` is a User or an accounts.TokenHolder.
    public_accounts() is the same rule for SQL."""
    return account.role == ROLE_CITIZEN and not account.staff


def public_accounts() -> tuple:
    """WHERE clauses on User of on_public_boards (a query that joins users)."""
    return (User.role == ROLE_CITIZEN, User.staff.is_(False))


def counted_accounts(contest) -> tuple:
    """public_accounts, and not disqualified in `contest`: whose results count in the contest's
    boards, aggregates, final standings and draws (a query that joins users)."""
    return (*public_accounts(), ~exists().where(Disqualification.contest_id == contest.id,
                                                Disqualification.user_id == User.id,
                                                Disqualification.lifted_at.is_(None)))


def disqualified_ids(session, contest) -> list[int]:
    """User ids disqualified (and not reinstated) in the contest."""
    return list(session.scalars(select(Disqualification.user_id).where(
        Disqualification.contest_id == contest.id, Disqualification.lifted_at.is_(None))))


def board_score(score: int, time_used_ms: int) -> int:
    """The zset score: higher score, then less time used (values outside the limits are clamped)."""
    return min(max(score, 0), MAX_SCORE) * SCORE_UNIT + MAX_TIME_MS - min(max(time_used_ms, 0), MAX_TIME_MS)


def board_member(finish_s: int, first_s: int, user_id: int) -> str:
    """The zset member: among equal scores the greater member ranks first (ZREVRANGE), so the
    earlier finish, then the earlier first attempt, then the smaller user id."""
    finish_s, first_s = (min(max(s, 0), MAX_SECOND) for s in (finish_s, first_s))
    return f"{MAX_SECOND - finish_s:0{SECOND_DIGITS}d}{MAX_SECOND - first_s:0{SECOND_DIGITS}d}" \
        f"{MAX_USER_ID - user_id:0{USER_ID_DIGITS}d}"


def encode(score: int, time_used_ms: int, finish_s: int, first_s: int, user_id: int) -> tuple[int, str]:
    """(zset score, member) of a citizen's entry."""
    return board_score(score, time_used_ms), board_member(finish_s, first_s, user_id)


def decode(score: float, member: bytes | str) -> tuple[int, int, int, int, int]:
    """(score, time_used_ms, finish_s, first_s, user_id) of a board entry."""
    member = member.decode() if isinstance(member, bytes) else member
    points, time_part = divmod(int(score), SCORE_UNIT)
    return (points, MAX_TIME_MS - time_part, MAX_SECOND - int(member[:SECOND_DIGITS]),
            MAX_SECOND - int(member[SECOND_DIGITS:2 * SECOND_DIGITS]), member_user_id(member))


def member_user_id(member: bytes | str) -> int:
    return MAX_USER_ID - int(member[-USER_ID_DIGITS:])


def seconds_after_start(contest: Contest, instant: datetime) -> int:
    """Whole seconds (floored) from the contest start: the finish and the first attempt."""
    return (instant - contest.starts_at) // timedelta(seconds=1)


def _seconds(contest: Contest, *instants: datetime) -> list[int]:
    """seconds_after_start of each instant, clamped to the member's field."""
    return [min(max(seconds_after_start(contest, instant), 0), MAX_SECOND) for instant in instants]


def _name_value(name: str, district: str | None) -> str:
    return f"{mask_name(name)}\t{district or ''}"


# Returns 1 new entry, 2 the entry moved (a better result, or an earlier first attempt told
# late), 0 counted but unchanged, -1 already counted, -2 board not built (the caller rebuilds
# from SQL, which includes this attempt), -3 the citizen is disqualified (nothing counted, as a
# rebuild would do). The entry keeps the better of (zset score, finish) and the earlier first
# attempt, so attempts told in any order give the entry a rebuild gives.
_RECORD = """
-- KEYS: city, district board, names, agg, recorded, meta, dq, members, group board, group members
-- ARGV: user id, zset score, score, name value, district, attempt id, now ms, events channel,
--       finish_s, first_s, group code ('' = the attempt has no group)
if redis.call('HEXISTS', KEYS[6], 'built_at') == 0 then return -2 end
if redis.call('SISMEMBER', KEYS[7], ARGV[1]) == 1 then return -3 end
if redis.call('SADD', KEYS[5], ARGV[6]) == 0 then return -1 end
local d = ARGV[5]
redis.call('HINCRBY', KEYS[4], d .. ':attempts', 1)
redis.call('HINCRBY', KEYS[4], 'all:attempts', 1)
redis.call('HSET', KEYS[6], 'updated_at', ARGV[7])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
local function member(finish, first)  -- quiz.leaderboard.board_member
  return string.format('%0@SD@d%0@SD@d%0@UD@d', @MAX_SECOND@ - finish, @MAX_SECOND@ - first,
                       @MAX_USER_ID@ - tonumber(ARGV[1]))
end
local new, finish, first = tonumber(ARGV[2]), tonumber(ARGV[9]), tonumber(ARGV[10])
if ARGV[11] ~= '' then  -- the group's board keeps its own best, of the attempts taken in the group
  local g = 'g:' .. ARGV[11]
  redis.call('HINCRBY', KEYS[4], g .. ':attempts', 1)
  local g_member = redis.call('HGET', KEYS[10], ARGV[1])
  local g_old = g_member and redis.call('ZSCORE', KEYS[9], g_member)
  if not g_old then
    local m = member(finish, first)
    redis.call('ZADD', KEYS[9], ARGV[2], m)
    redis.call('HSET', KEYS[10], ARGV[1], m)
    redis.call('HINCRBY', KEYS[4], g .. ':participants', 1)
  else
    local g_finish = @MAX_SECOND@ - tonumber(string.sub(g_member, 1, @SD@))
    local g_first = @MAX_SECOND@ - tonumber(string.sub(g_member, @SD@ + 1, 2 * @SD@))
    local g_better = new > tonumber(g_old) or (new == tonumber(g_old) and finish < g_finish)
    local m = member(g_better and finish or g_finish, math.min(first, g_first))
    if m ~= g_member or g_better then
      redis.call('ZREM', KEYS[9], g_member)
      redis.call('ZADD', KEYS[9], g_better and ARGV[2] or g_old, m)
      redis.call('HSET', KEYS[10], ARGV[1], m)
    end
  end
end
local old_member = redis.call('HGET', KEYS[8], ARGV[1])
local old = old_member and redis.call('ZSCORE', KEYS[1], old_member)
if not old then  -- new, or a board lost while the members hash stayed
  if old_member then redis.call('ZREM', KEYS[2], old_member) end
  local m = member(finish, first)
  redis.call('ZADD', KEYS[1], ARGV[2], m)
  redis.call('ZADD', KEYS[2], ARGV[2], m)
  redis.call('HSET', KEYS[8], ARGV[1], m)
  redis.call('HINCRBY', KEYS[4], d .. ':participants', 1)
  redis.call('HINCRBY', KEYS[4], 'all:participants', 1)
  redis.call('HINCRBY', KEYS[4], d .. ':best_sum', ARGV[3])
  redis.call('HINCRBY', KEYS[4], 'all:best_sum', ARGV[3])
  redis.call('PUBLISH', ARGV[8], 'result')
  return 1
end
local old_finish = @MAX_SECOND@ - tonumber(string.sub(old_member, 1, @SD@))
local old_first = @MAX_SECOND@ - tonumber(string.sub(old_member, @SD@ + 1, 2 * @SD@))
local better = new > tonumber(old) or (new == tonumber(old) and finish < old_finish)
local score = better and ARGV[2] or old  -- the strings: exact, whatever Lua's number format
local m = member(better and finish or old_finish, math.min(first, old_first))
redis.call('PUBLISH', ARGV[8], 'result')
if m == old_member and not better then return 0 end
redis.call('ZREM', KEYS[1], old_member)
redis.call('ZREM', KEYS[2], old_member)
redis.call('ZADD', KEYS[1], score, m)
redis.call('ZADD', KEYS[2], score, m)
redis.call('HSET', KEYS[8], ARGV[1], m)
if better then
  local delta = tonumber(ARGV[3]) - math.floor(tonumber(old) / @SCORE_UNIT@)
  redis.call('HINCRBY', KEYS[4], d .. ':best_sum', delta)
  redis.call('HINCRBY', KEYS[4], 'all:best_sum', delta)
end
return 2
"""
for _name, _value in (("@MAX_SECOND@", MAX_SECOND), ("@MAX_USER_ID@", MAX_USER_ID), ("@SCORE_UNIT@", SCORE_UNIT),
                      ("@SD@", SECOND_DIGITS), ("@UD@", USER_ID_DIGITS)):
    _RECORD = _RECORD.replace(_name, str(_value))

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _record_keys(slug: str, district: str, group: str | None = None) -> list[str]:
    """The record script's keys; without a group its last two are never written."""
    return [_key(slug, "city"), _key(slug, "d", district), _key(slug, "names"), _key(slug, "agg"),
            _key(slug, "recorded"), _key(slug, "meta"), _key(slug, "dq"), _key(slug, "members"),
            _key(slug, "g", group or NO_DISTRICT), _key(slug, "gm", group or NO_DISTRICT)]


def _state() -> dict:
    """Per-app, per-process bookkeeping of the catch-up (tests build one app each)."""
    return current_app.extensions.setdefault("quiz_leaderboard", {"last_check": {}, "last_scan": {},
                                                                   "failures_at_scan": -1})


# The same, then the citizen's city and district ranks (0-based, -1 when absent): a submit
# answers with them, and asking inside the script saves a round trip per submit.
_RECORD_AND_RANK = (
    "local function record()\n" + _RECORD + "\nend\n"
    "local outcome = record()\n"
    "if outcome == -2 or outcome == -3 then return {outcome, -1, -1} end\n"
    "local now_member = redis.call('HGET', KEYS[8], ARGV[1])\n"
    "if not now_member then return {outcome, -1, -1} end\n"
    "local city = redis.call('ZREVRANK', KEYS[1], now_member)\n"
    "local district = redis.call('ZREVRANK', KEYS[2], now_member)\n"
    "return {outcome, city or -1, district or -1}\n"
)


def record_attempt(contest: Contest, attempt: Attempt, user: User, client=None, session=None,
                   rebuild_if_missing: bool = True) -> bool:
    """Count a finished (committed) attempt and keep the citizen's best; False when Redis failed.

    Atomic and idempotent (a Lua script keyed by the attempt id): a worse or
    equal result never replaces a better one, even with several app hosts.
    A board that is not built yet is rebuilt from SQL first (which counts this attempt).
    """
    return _record(_RECORD, contest, attempt, user, client, session, rebuild_if_missing)[0]


def record_and_rank(contest: Contest, attempt: Attempt, user: User) -> tuple[bool, dict | None]:
    """record_attempt, and the citizen's {city, district} ranks afterwards (None when unknown:
    Redis failed or the board was just rebuilt; rank_or_none then asks)."""
    return _record(_RECORD_AND_RANK, contest, attempt, user)


def _record(script: str, contest: Contest, attempt: Attempt, user: User, client=None, session=None,
            rebuild_if_missing: bool = True) -> tuple[bool, dict | None]:
    if not on_public_boards(user):
        return True, None  # kept in SQL and labelled in the console, never on a board
    client = client or redis_client()
    district = user.district or NO_DISTRICT
    group = getattr(attempt, "group", None)  # the group it was taken in, not the citizen's today
    try:
        with fail_open("record"):
            # EVALSHA (loaded once per server); the script also tells the displays (PUBLISH).
            reply = client.register_script(script)(
                keys=_record_keys(contest.slug, district, group),
                args=[user.id, board_score(attempt.score, attempt.time_used_ms), attempt.score,
                      _name_value(user.name, user.district), district, attempt.id, int(time.time() * 1000),
                      _key(contest.slug, "events"), *_seconds(contest, attempt.finished_at, attempt.started_at),
                      group or ""],
                client=client,
            )
            outcome, city, in_district = reply if isinstance(reply, list) else (reply, -1, -1)
            if outcome == -2:
                if not rebuild_if_missing:
                    return False, None
                return rebuild(session or db.session, contest, client, wait=False) is not None, None
    except Unavailable:
        return False, None
    if city < 0:
        return True, None
    return True, {"city": city + 1, "district": in_district + 1 if in_district >= 0 else None}


# ---- reading ---------------------------------------------------------------
# Every reader takes `as_of`: None reads the live boards; an instant (the contest's
# freeze_at, while quiz.freeze says the contest is frozen) reads the frozen boards, the
# standings of the attempts finished by then, built from SQL on the first read.

def _view_key(slug: str, as_of: datetime | None, *parts: str) -> str:
    return _key(slug, FROZEN, *parts) if as_of is not None else _key(slug, *parts)


def _board_key(contest: Contest, district: str | None, as_of: datetime | None = None, group: str | None = None) -> str:
    """The city board, a district's (district) or a group's (group; the two are exclusive)."""
    if group:
        return _view_key(contest.slug, as_of, "g", group)
    return _view_key(contest.slug, as_of, "d", district) if district else _view_key(contest.slug, as_of, "city")


def _read(contest: Contest, as_of: datetime | None, commands) -> tuple:
    """(client, replies of commands(pipe)) once the view's boards are built; raises Unavailable.
    Frozen boards that are missing or of another freeze instant are built first."""
    client = redis_client()
    with fail_open("read"):
        for _ in range(2):
            pipe = client.pipeline(transaction=False)
            pipe.hget(_view_key(contest.slug, as_of, "meta"), "as_of" if as_of is not None else "built_at")
            commands(pipe)
            marker, *replies = pipe.execute()
            if marker is not None and (as_of is None or marker.decode() == as_of.isoformat()):
                return client, replies
            if as_of is None or not build_frozen(db.session, contest, as_of, client):
                break
    raise Unavailable("board not built")


def top(contest: Contest, district: str | None = None, limit: int = 20, offset: int = 0,
        as_of: datetime | None = None, group: str | None = None) -> dict:
    """{total, entries: [{rank, name, district, score, time_used_ms}]}; names masked,
    district is the code ("" when none); `group`: that group's board instead (not with
    district); raises Unavailable."""
    board = _board_key(contest, district, as_of, group)

    def commands(pipe):
        pipe.zcard(board)
        pipe.zrevrange(board, offset, offset + limit - 1, withscores=True)

    client, (total, rows) = _read(contest, as_of, commands)
    with fail_open("read"):
        names = client.hmget(_view_key(contest.slug, as_of, "names"),
                             [member_user_id(m) for m, _ in rows]) if rows else []
    entries = []
    for position, ((member, encoded), name) in enumerate(zip(rows, names, strict=True)):
        masked, _, code = (name or b"\t").decode().rpartition("\t")
        score, time_used_ms, *_ = decode(encoded, member)
        entries.append({"rank": offset + position + 1, "name": masked, "district": code,
                        "score": score, "time_used_ms": time_used_ms})
    return {"total": total, "entries": entries}


def frozen_fields(as_of: datetime | None) -> dict:
    """{"frozen", "frozen_at"} as the public JSON responses carry them (frozen_at ISO +08:00)."""
    return {"frozen": as_of is not None, "frozen_at": iso(as_of)}


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def cached_json(contest: Contest, name: str, build, as_of: datetime | None = None) -> bytes:
    """build() serialized as JSON and shared by every app host through Redis; raises
    Unavailable (build may raise it too). A frozen view (as_of) has its own copies, so a
    live copy is never served as frozen or the reverse.

    One request per LEADERBOARD_CACHE_MS (whoever wins a SET NX) rebuilds the copy;
    every other request serves the stored one, so a copy is at most about that old
    and an expiring cache never sends every worker to rebuild at once.
    """
    client = redis_client()
    name = f"{FROZEN}:{name}" if as_of is not None else name
    cache = _key(contest.slug, "cache", name)
    fresh_ms = current_app.config["LEADERBOARD_CACHE_MS"]
    with fail_open("read"):
        pipe = client.pipeline(transaction=False)
        pipe.get(cache)
        pipe.set(_key(contest.slug, "cache-lock", name), b"1", nx=True, px=fresh_ms)
        cached, refresh = pipe.execute()
    if cached is not None and not refresh:
        return cached
    body = _dumps(build())
    with contextlib.suppress(Unavailable), fail_open("cache write"):
        client.set(cache, body, px=max(10 * fresh_ms, 5000))
    return body


CACHED_LIMITS = (10, 20, 50, 100)  # page sizes worth sharing: the API's default and round sizes
CACHED_PAGES = 5  # of each size, the first pages (offset 0, limit, ..., 4 x limit)


def top_json(contest: Contest, district: str | None = None, limit: int = 20, offset: int = 0,
             as_of: datetime | None = None, group: str | None = None) -> bytes:
    """The serialized board (see top) with frozen_fields. The first CACHED_PAGES pages of each
    of CACHED_LIMITS (city, a district or a group) are cached briefly and shared by every app host; any
    other page is read from the board each time, so no caller can make a cache key per limit
    and offset."""
    build = lambda: top(contest, district, limit, offset, as_of, group) | frozen_fields(as_of)  # noqa: E731
    if limit in CACHED_LIMITS and offset % limit == 0 and offset // limit < CACHED_PAGES:
        board = f"group:{group}" if group else district or "city"
        return cached_json(contest, f"{board}:{limit}:{offset}", build, as_of)
    return _dumps(build())


# The citizen's member, its zset score and both ranks (0-based; -1: not on the district board),
# or nil: one round trip, O(log n).
_STANDING = """
local m = redis.call('HGET', KEYS[1], ARGV[1])
if not m then return false end
local score = redis.call('ZSCORE', KEYS[2], m)
if not score then return false end
return {m, score, redis.call('ZREVRANK', KEYS[2], m), redis.call('ZREVRANK', KEYS[3], m) or -1}
"""


def standing(contest: Contest, user: User, as_of: datetime | None = None) -> dict:
    """{best: {score, time_used_ms} | None, rank: {city, district}} on the view's boards (frozen:
    the best and ranks at the freeze); raises Unavailable."""
    def commands(pipe):
        # execute_command: a cluster pipeline has no eval(), but routes EVAL by its keys' slot.
        pipe.execute_command("EVAL", _STANDING, 3, _view_key(contest.slug, as_of, "members"),
                             _board_key(contest, None, as_of), _board_key(contest, user.district or NO_DISTRICT, as_of),
                             user.id)

    _client, (found,) = _read(contest, as_of, commands)
    if found is None:
        return {"best": None, "rank": {"city": None, "district": None}}
    member, encoded, city_rank, district_rank = found
    score, time_used_ms, *_ = decode(float(encoded), member)
    district_rank = None if district_rank < 0 else district_rank
    return {
        "best": {"score": score, "time_used_ms": time_used_ms},
        "rank": {"city": city_rank + 1, "district": None if district_rank is None else district_rank + 1},
    }


def rank_or_none(contest: Contest, user: User, as_of: datetime | None = None) -> dict | None:
    """{city, district} ranks of the citizen's best (at the freeze, with as_of), or None when
    Redis is away or the citizen is not on the board (yet): the result page then says the
    rank is unavailable."""
    try:
        rank = standing(contest, user, as_of)["rank"]
    except Unavailable:
        return None
    return rank if rank["city"] is not None else None


def _agg_values(contest: Contest, as_of: datetime | None = None) -> dict[str, int]:
    _client, (agg,) = _read(contest, as_of, lambda pipe: pipe.hgetall(_view_key(contest.slug, as_of, "agg")))
    return {k.decode(): int(v) for k, v in agg.items()}


RANK_BY_LABELS = {"per_10k": "每万人参赛人数", "participants": "参赛人数", "attempts": "答题人次",
                  "full_score_rate": "满分率"}


def rank_by(contest: Contest) -> str:
    """The contest file's district_rank_by (per_10k when not set)."""
    return getattr(contest, "district_rank_by", None) or "per_10k"


def district_rows(contest: Contest, values: dict[str, int], full_scores: dict[str, int] | None = None) -> list[dict]:
    """Rows of the districts ordered by the contest's district_rank_by, then code. With
    full_score_rate (full_scores: district -> participants with a full score, from SQL)
    each row also has full_score_rate (0–1)."""
    by = rank_by(contest)
    rows, exact = [], {}
    for d in contest.districts:
        participants = values.get(f"{d['code']}:participants", 0)
        best_sum = values.get(f"{d['code']}:best_sum", 0)
        row = {
            "code": d["code"], "name": d["name"], "participants": participants,
            "attempts": values.get(f"{d['code']}:attempts", 0),
            "average_score": round(best_sum / participants, 2) if participants else 0,
            "participation_per_10k": round(participants * 10000 / d["population"], 2),
        }
        if by == "full_score_rate":
            full = min((full_scores or {}).get(d["code"], 0), participants)
            exact[d["code"]] = full / participants if participants else 0
            row["full_score_rate"] = round(exact[d["code"]], 4)
        elif by in ("participants", "attempts"):
            exact[d["code"]] = row[by]
        else:
            exact[d["code"]] = participants / d["population"]
        rows.append(row)
    rows.sort(key=lambda r: (-exact[r["code"]], r["code"]))  # unrounded, so rounding never reorders
    return rows


def districts(contest: Contest, full_scores: dict[str, int] | None = None,
              as_of: datetime | None = None) -> list[dict]:
    """District aggregates ordered by the contest's district_rank_by (default participation per
    10,000 residents), then code; average_score is the mean of the participants' best scores.
    Ranked by full_score_rate, the full-score participants per district come from SQL
    (`full_scores`: units.district_standings gives them). Raises Unavailable."""
    return district_rows(contest, _agg_values(contest, as_of), full_scores)


def totals(contest: Contest, district: str | None = None, as_of: datetime | None = None,
           group: str | None = None) -> dict:
    """{participants, attempts, updated_at (ms or None)} of the city, one district or one group;
    frozen boards keep updated_at at the freeze instant. Raises Unavailable."""
    prefix = f"g:{group}" if group else district or "all"

    def commands(pipe):
        pipe.hmget(_view_key(contest.slug, as_of, "agg"), [f"{prefix}:participants", f"{prefix}:attempts"])
        pipe.hget(_view_key(contest.slug, as_of, "meta"), "updated_at")

    _client, ((participants, attempts), updated) = _read(contest, as_of, commands)
    return {"participants": int(participants or 0), "attempts": int(attempts or 0),
            "updated_at": int(updated) if updated else None}


def events_channel(contest: Contest) -> str:
    return _key(contest.slug, "events")


def subscribe(contest: Contest):
    """A pub/sub object subscribed to the contest's result events (for SSE); raises Unavailable.
    The caller closes it."""
    pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
    try:
        with fail_open("subscribe"):
            pubsub.subscribe(events_channel(contest))
    except Unavailable:
        pubsub.close()
        raise
    return pubsub


# ---- rebuilding from SQL ----------------------------------------------------

def _finished_clause(contest: Contest):
    return (Attempt.contest_id == contest.id, Attempt.practice.is_(False), Attempt.status != ATTEMPT_ACTIVE)


def _best_results(session, contest: Contest, as_of: datetime | None = None):
    """Rows (id, user_id, score, time_used_ms, started_at, finished_at, name, district, closed_at,
    group) of every finished attempt of an account on the public boards (finished by as_of, when given)."""
    cutoff = (Attempt.finished_at <= as_of,) if as_of is not None else ()
    return session.execute(
        select(Attempt.id, Attempt.user_id, Attempt.score, Attempt.time_used_ms, Attempt.started_at,
               Attempt.finished_at, User.name, User.district, User.closed_at, Attempt.group)
        .join(User, User.id == Attempt.user_id)
        .where(*_finished_clause(contest), *counted_accounts(contest), *cutoff)
        .execution_options(yield_per=5000)
    )


def _take_lock(client, slug: str, wait_s: float | None):
    """(lock key, token) of the contest's rebuild lock, or None after wait_s (None: forever)."""
    lock, token = _key(slug, "lock", "rebuild"), uuid.uuid4().hex
    deadline = None if wait_s is None else time.monotonic() + wait_s
    while not client.set(lock, token, nx=True, ex=REBUILD_LOCK_S):
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.1 if wait_s else 0.2)
    return lock, token


@contextlib.contextmanager
def _held(client, lock: str, token: str):
    held = threading.Event()
    threading.Thread(target=_renew_lease, args=(client, lock, token, held), daemon=True).start()
    try:
        yield
    finally:
        held.set()
        client.eval(_UNLOCK, 1, lock, token)


def rebuild(session, contest: Contest, client=None, wait: bool = True) -> dict | None:
    """Recompute every key of the contest from SQL into fresh keys and swap them in atomically;
    frozen boards already built are recomputed too (with their freeze instant).

    One rebuild at a time per contest (a lock in Redis): wait=False returns None
    when another one runs, wait=True waits for it. Raises redis.RedisError (callers that
    should degrade call it inside fail_open).
    """
    client = client or redis_client()
    taken = _take_lock(client, contest.slug, None if wait else 0)
    if taken is None:
        return None
    with _held(client, *taken):
        return _rebuild_locked(session, contest, client)


def build_frozen(session, contest: Contest, as_of: datetime, client=None) -> bool:
    """Build the frozen boards (the standings of the attempts finished by as_of) unless they
    are built for as_of already, under the rebuild lock; False when another process held the
    lock for FROZEN_WAIT_S. Raises redis.RedisError."""
    client = client or redis_client()
    taken = _take_lock(client, contest.slug, FROZEN_WAIT_S)
    if taken is None:
        return False
    with _held(client, *taken):
        marker = client.hget(_key(contest.slug, FROZEN, "meta"), "as_of")
        if marker is None or marker.decode() != as_of.isoformat():
            _build_view(session, contest, client, as_of)
            drop_cache(contest, client)
    return True


def _renew_lease(client, lock: str, token: str, released: threading.Event) -> None:
    while not released.wait(REBUILD_LOCK_S / 3):
        try:
            with fail_open("rebuild lease"):
                if not client.eval(_EXTEND, 1, lock, token, REBUILD_LOCK_S * 1000):
                    return  # no longer ours
        except Unavailable:
            return


def _build_view(session, contest: Contest, client, as_of: datetime | None) -> tuple[dict, list]:
    """Compute the live boards (as_of None) or the frozen ones from SQL into fresh keys and swap
    them in; returns (best per user, counted attempt ids). The one implementation of both.
    A citizen's entry is their best by (zset score, earlier finish) with their earliest start,
    as the record script keeps it."""
    slug = contest.slug
    best: dict[int, tuple] = {}  # user id -> (zset score, score, name, district, -finish_s)
    first: dict[int, int] = {}  # user id -> first_s
    attempt_ids: list[int] = []
    agg: dict[str, int] = {}
    closed: set[int] = set()  # closed accounts (注销): counted in agg, never on a ranking
    by_group: dict[tuple[str, int], tuple] = {}  # (group, user id) -> (zset score, -finish_s, first_s)
    for row in _best_results(session, contest, as_of):
        if row.closed_at is not None:
            closed.add(row.user_id)
        finish_s, first_s = _seconds(contest, row.finished_at, row.started_at)
        encoded = board_score(row.score, row.time_used_ms)
        attempt_ids.append(row.id)
        district = row.district or NO_DISTRICT
        agg[f"{district}:attempts"] = agg.get(f"{district}:attempts", 0) + 1
        if row.user_id not in best or (encoded, -finish_s) > (best[row.user_id][0], best[row.user_id][4]):
            best[row.user_id] = (encoded, row.score, row.name, row.district, -finish_s)
        first[row.user_id] = min(first.get(row.user_id, first_s), first_s)
        if row.group:  # the group's board: the citizen's best of the attempts taken in the group
            agg[f"g:{row.group}:attempts"] = agg.get(f"g:{row.group}:attempts", 0) + 1
            known = by_group.get((row.group, row.user_id))
            if known is None or (encoded, -finish_s) > known[:2]:
                by_group[(row.group, row.user_id)] = (encoded, -finish_s, min(first_s, known[2]) if known else first_s)
            else:
                by_group[(row.group, row.user_id)] = (*known[:2], min(first_s, known[2]))
    session.rollback()  # end the read transaction so the late query below sees newer commits
    for group, _uid in by_group:
        agg[f"g:{group}:participants"] = agg.get(f"g:{group}:participants", 0) + 1
    for _encoded, score, _name, district, _finish in best.values():
        district = district or NO_DISTRICT
        agg[f"{district}:participants"] = agg.get(f"{district}:participants", 0) + 1
        agg[f"{district}:best_sum"] = agg.get(f"{district}:best_sum", 0) + score
    if attempt_ids:  # the same fields the incremental script creates, no more
        agg["all:attempts"] = len(attempt_ids)
        agg["all:participants"] = len(best)
        agg["all:best_sum"] = sum(v[1] for v in best.values())

    district_codes = {d["code"] for d in contest.districts} | {v[3] or NO_DISTRICT for v in best.values()}
    names = ["city", "members", "names", "agg"] + ([] if as_of is not None else ["recorded", "dq"])  # frozen: never recorded to
    final = {name: _view_key(slug, as_of, name) for name in names}
    final |= {f"d:{code}": _view_key(slug, as_of, "d", code) for code in district_codes}
    group_codes = {g["code"] for g in (contest.groups or [])} | {group for group, _uid in by_group}
    final |= {f"{kind}:{code}": _view_key(slug, as_of, kind, code) for code in group_codes for kind in ("g", "gm")}
    fresh = {name: _key(slug, "new", *((FROZEN,) if as_of is not None else ()), name) for name in final}
    client.delete(*fresh.values())  # leftovers of a rebuild that died
    items = [(uid, board_member(-v[4], first[uid], uid), v) for uid, v in best.items() if uid not in closed]
    pipe = client.pipeline(transaction=False)
    for i in range(0, len(items), 10000):
        chunk = items[i:i + 10000]
        pipe.zadd(fresh["city"], {member: v[0] for _uid, member, v in chunk})
        pipe.hset(fresh["members"], mapping={str(uid): member for uid, member, _v in chunk})
        by_district: dict[str, dict] = {}
        for _uid, member, v in chunk:
            by_district.setdefault(v[3] or NO_DISTRICT, {})[member] = v[0]
        for code, members in by_district.items():
            pipe.zadd(fresh[f"d:{code}"], members)
        pipe.hset(fresh["names"], mapping={str(uid): _name_value(v[2], v[3]) for uid, _member, v in chunk})
        pipe.execute()
    group_items = [(group, uid, board_member(-v[1], v[2], uid), v[0]) for (group, uid), v in by_group.items()
                   if uid not in closed]
    for i in range(0, len(group_items), 10000):
        boards: dict[str, tuple[dict, dict]] = {}  # group -> (board, members)
        for group, uid, member, encoded in group_items[i:i + 10000]:
            board, members = boards.setdefault(group, ({}, {}))
            board[member], members[str(uid)] = encoded, member
        for group, (board, members) in boards.items():
            pipe.zadd(fresh[f"g:{group}"], board)
            pipe.hset(fresh[f"gm:{group}"], mapping=members)
        pipe.execute()
    if as_of is None:
        for i in range(0, len(attempt_ids), 10000):
            pipe.sadd(fresh["recorded"], *attempt_ids[i:i + 10000])
    if agg:
        pipe.hset(fresh["agg"], mapping=agg)
    if as_of is None:
        disqualified = disqualified_ids(session, contest)
        session.rollback()
        if disqualified:
            pipe.sadd(fresh["dq"], *disqualified)
    pipe.execute()
    present = set()
    check = client.pipeline(transaction=False)
    for key in fresh.values():
        check.exists(key)
    for name, found in zip(fresh, check.execute(), strict=True):
        if found:
            present.add(name)
    swap = client.pipeline(transaction=True)
    for name, key in final.items():
        if name in present:
            swap.rename(fresh[name], key)
        else:
            swap.delete(key)
    now_ms = int(time.time() * 1000)
    if as_of is None:
        swap.hset(_key(slug, "meta"), mapping={"built_at": now_ms, "updated_at": now_ms})
    else:  # "updated" stays the freeze instant: nothing after it may show
        meta = _key(slug, FROZEN, "meta")
        swap.delete(meta)
        swap.hset(meta, mapping={"built_at": now_ms, "as_of": as_of.isoformat(),
                                 "updated_at": int(as_of.replace(tzinfo=UTC).timestamp() * 1000)})
    swap.execute()
    return best, attempt_ids


def _rebuild_locked(session, contest: Contest, client) -> dict:
    started = time.time()
    slug = contest.slug
    # Attempts flagged before we read SQL are in the snapshot; only those get unflagged.
    pending_before = list(session.scalars(
        select(Attempt.id).where(Attempt.contest_id == contest.id, Attempt.board_pending.is_(True))))
    best, attempt_ids = _build_view(session, contest, client, None)
    # Attempts finished while we read SQL went to the old keys (or nowhere): count them again.
    snapshot = set(attempt_ids)
    late = [i for i in session.scalars(select(Attempt.id).join(User, User.id == Attempt.user_id)
                                       .where(*_finished_clause(contest), *counted_accounts(contest))) if i not in snapshot]
    for attempt in session.scalars(select(Attempt).where(Attempt.id.in_(late))).all() if late else []:
        if not record_attempt(contest, attempt, attempt.user, client, rebuild_if_missing=False):
            attempt.board_pending = True
    for i in range(0, len(pending_before), 1000):
        session.execute(update(Attempt).where(Attempt.id.in_(pending_before[i:i + 1000])).values(board_pending=False))
    session.commit()
    frozen_as_of = client.hget(_key(slug, FROZEN, "meta"), "as_of")
    if frozen_as_of is not None:  # a disqualification or a rebuild reaches the frozen boards too
        _build_view(session, contest, client, datetime.fromisoformat(frozen_as_of.decode()))
    drop_cache(contest, client)
    client.publish(_key(slug, "events"), "rebuild")
    return {"participants": len(best), "attempts": len(attempt_ids), "seconds": round(time.time() - started, 3)}


def drop_frozen(contest: Contest, client=None) -> None:
    """Delete the frozen boards and every cached page, and tell the displays ("unfreeze"):
    the public readers show the live boards from now on. Raises redis.RedisError."""
    client = client or redis_client()
    for key in client.scan_iter(match=_key(contest.slug, FROZEN, "*"), count=1000):
        client.delete(key)
    drop_cache(contest, client)
    client.publish(_key(contest.slug, "events"), "unfreeze")


def drop_cache(contest: Contest, client=None) -> None:
    client = client or redis_client()
    for key in client.scan_iter(match=_key(contest.slug, "cache", "*"), count=1000):
        client.delete(key)


def catch_up(session, contest: Contest, force: bool = False) -> str | None:
    """Bring Redis back in line with SQL after an outage; cheap enough for read paths.

    At most every LEADERBOARD_CATCH_UP_S seconds per process (force skips the wait):
    a board without built_at (Redis restarted empty) is rebuilt under the lock;
    attempts flagged board_pending are recorded, scanning SQL for them right after
    this process saw a Redis error and otherwise once a minute.
    Returns "rebuilt", "synced" or None; never raises for Redis errors.
    """
    state = _state()
    now = time.monotonic()
    every = current_app.config.get("LEADERBOARD_CATCH_UP_S", CATCH_UP_EVERY_S)
    if not force and now - state["last_check"].get(contest.slug, -1e9) < every:
        return None
    state["last_check"][contest.slug] = now
    try:
        with fail_open("catch-up"):
            client = redis_client()
            if not client.hexists(_key(contest.slug, "meta"), "built_at"):
                return "rebuilt" if rebuild(session, contest, client, wait=False) is not None else None
            due = now - state["last_scan"].get(contest.slug, -1e9) >= PENDING_SCAN_EVERY_S
            seen = redis_connection.failures
            if not (force or seen != state["failures_at_scan"] or due):
                return None
            state["last_scan"][contest.slug] = now
            pending = session.scalars(
                select(Attempt).where(Attempt.contest_id == contest.id, Attempt.board_pending.is_(True))
                .order_by(Attempt.id).limit(1000)
            ).all()
            for attempt in pending:
                if not record_attempt(contest, attempt, attempt.user, client, session=session):
                    session.commit()
                    return None
                attempt.board_pending = False
            session.commit()
            if len(pending) < 1000:
                state["failures_at_scan"] = seen
            return "synced" if pending else None
    except Unavailable:
        session.rollback()
    return None


def clear(contest: Contest, client=None) -> None:
    """Delete every key of the contest (tests and contest removal)."""
    client = client or redis_client()
    for key in client.scan_iter(match=_key(contest.slug, "*"), count=1000):
        client.delete(key)
