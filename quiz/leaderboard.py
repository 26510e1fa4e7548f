"""Live leaderboards in Redis: the only module that touches these keys.

Every key carries the contest slug as a hash tag, so one contest lives in one
Redis Cluster slot and its Lua script and MULTI blocks stay legal there.

| key                                   | type   | content                                        | TTL   |
|---------------------------------------|--------|------------------------------------------------|-------|
| quiz:{slug}:city                      | zset   | user id -> encoded best result                 | none  |
| quiz:{slug}:d:<district>              | zset   | the same, one per district                     | none  |
| quiz:{slug}:names                     | hash   | user id -> "masked name<TAB>district code"     | none  |
| quiz:{slug}:agg                       | hash   | <district>:participants/attempts/best_sum, all:* | none |
| quiz:{slug}:recorded                  | set    | attempt ids already counted (idempotence)      | none  |
| quiz:{slug}:meta                      | hash   | built_at, updated_at (ms); missing = rebuild   | none  |
| quiz:{slug}:cache:<board>:<lim>:<off> | string | serialized leaderboard JSON shared by all hosts| LEADERBOARD_CACHE_MS |
| quiz:{slug}:lock:rebuild              | string | rebuild in progress                            | 120 s |
| quiz:{slug}:events                    | pubsub | "result" messages for the displays             | -     |

Score encoding (exact: every value is an integer below 2**53, so a double holds it):
    encoded = score * 2**42 + (2**20 - 1 - time_used_ms) * 2**22 + (2**22 - 1 - finish_s)
Higher score wins, then less time used, then the earlier finish (seconds after the
contest start). Limits, enforced by the contest validator: score <= 2047,
time_used_ms <= 1,048,575 (time_limit_s <= 1048), a window of at most 48 days.
Results equal in all three (same score, same ms, same finishing second) are
ordered by Redis by member id.

SQL stays the source of truth: every write here may fail (the caller keeps
going and the attempt is flagged board_pending), and `rebuild` or the
automatic `catch_up` brings Redis back in line with SQL.
"""
import json
import logging
import time

import redis
from flask import current_app
from sqlalchemy import select, update

from quiz.accounts import mask_name
from quiz.extensions import redis_client
from quiz.models import ATTEMPT_ACTIVE, Attempt, Contest, User

log = logging.getLogger(__name__)

SCORE_UNIT = 2**42
TIME_BITS = 20
FINISH_BITS = 22
MAX_TIME_MS = 2**TIME_BITS - 1
MAX_FINISH_S = 2**FINISH_BITS - 1
CATCH_UP_EVERY_S = 5.0

failures = 0  # Redis errors seen by this process (exposed on /readyz)
_last_catch_up: dict[str, float] = {}


def _key(slug: str, *parts: str) -> str:
    return ":".join(["quiz", "{" + slug + "}", *parts])


def encode(score: int, time_used_ms: int, finish_s: int) -> int:
    time_used_ms = min(max(time_used_ms, 0), MAX_TIME_MS)
    finish_s = min(max(finish_s, 0), MAX_FINISH_S)
    return score * SCORE_UNIT + (MAX_TIME_MS - time_used_ms) * 2**FINISH_BITS + (MAX_FINISH_S - finish_s)


def decode(encoded: float) -> tuple[int, int, int]:
    value = int(encoded)
    score, rest = divmod(value, SCORE_UNIT)
    time_part, finish_part = divmod(rest, 2**FINISH_BITS)
    return score, MAX_TIME_MS - time_part, MAX_FINISH_S - finish_part


def encode_attempt(contest: Contest, attempt: Attempt) -> int:
    finish_s = int((attempt.finished_at - contest.starts_at).total_seconds())
    return encode(attempt.score, attempt.time_used_ms, finish_s)


_RECORD = """
-- KEYS: city, district board, names, agg, recorded, meta
-- ARGV: member, encoded, score, name value, district, attempt id, now ms
if redis.call('SADD', KEYS[5], ARGV[6]) == 0 then return -1 end
local d = ARGV[5]
redis.call('HINCRBY', KEYS[4], d .. ':attempts', 1)
redis.call('HINCRBY', KEYS[4], 'all:attempts', 1)
redis.call('HSET', KEYS[6], 'updated_at', ARGV[7])
local new = tonumber(ARGV[2])
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not old then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
  redis.call('HINCRBY', KEYS[4], d .. ':participants', 1)
  redis.call('HINCRBY', KEYS[4], 'all:participants', 1)
  redis.call('HINCRBY', KEYS[4], d .. ':best_sum', ARGV[3])
  redis.call('HINCRBY', KEYS[4], 'all:best_sum', ARGV[3])
  return 1
end
old = tonumber(old)
if new > old then
  local delta = tonumber(ARGV[3]) - math.floor(old / 4398046511104)
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('HINCRBY', KEYS[4], d .. ':best_sum', delta)
  redis.call('HINCRBY', KEYS[4], 'all:best_sum', delta)
  return 2
end
return 0
"""


def _record_keys(slug: str, district: str) -> list[str]:
    return [_key(slug, "city"), _key(slug, "d", district), _key(slug, "names"), _key(slug, "agg"),
            _key(slug, "recorded"), _key(slug, "meta")]


def _note_failure(exc: Exception) -> None:
    global failures
    failures += 1
    log.warning("leaderboard: redis unavailable: %s", exc)


def record_attempt(contest: Contest, attempt: Attempt, user: User, client=None) -> bool:
    """Count a finished attempt and keep the citizen's best; False when Redis failed.

    Atomic and idempotent (a Lua script keyed by the attempt id): a worse or
    equal result never replaces a better one, even with several app hosts.
    """
    client = client or redis_client()
    try:
        client.eval(
            _RECORD, 6, *_record_keys(contest.slug, user.district or "-"),
            user.id, encode_attempt(contest, attempt), attempt.score,
            f"{mask_name(user.name)}\t{user.district or ''}", user.district or "-", attempt.id,
            int(time.time() * 1000),
        )
        client.publish(_key(contest.slug, "events"), "result")
    except redis.RedisError as exc:
        _note_failure(exc)
        return False
    return True


# ---- reading ---------------------------------------------------------------

class Unavailable(Exception):
    """Redis could not be reached; pages show a notice instead of the board."""


def _board_key(contest: Contest, district: str | None) -> str:
    return _key(contest.slug, "d", district) if district else _key(contest.slug, "city")


def top(contest: Contest, district: str | None = None, limit: int = 20, offset: int = 0) -> dict:
    """{total, entries: [{rank, name, district, score, time_used_ms}]}; raises Unavailable."""
    client = redis_client()
    board = _board_key(contest, district)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zcard(board)
        pipe.zrevrange(board, offset, offset + limit - 1, withscores=True)
        total, rows = pipe.execute()
        names = client.hmget(_key(contest.slug, "names"), [m for m, _ in rows]) if rows else []
    except redis.RedisError as exc:
        _note_failure(exc)
        raise Unavailable() from exc
    entries = []
    for position, ((_member, encoded), name) in enumerate(zip(rows, names, strict=True)):
        masked, _, code = (name or b"\t").decode().partition("\t")
        score, time_used_ms, _ = decode(encoded)
        entries.append({"rank": offset + position + 1, "name": masked, "district": code,
                        "score": score, "time_used_ms": time_used_ms})
    return {"total": total, "entries": entries}


def top_json(contest: Contest, district: str | None = None, limit: int = 20, offset: int = 0) -> bytes:
    """The serialized board, cached briefly in Redis so every app host shares one copy."""
    client = redis_client()
    cache = _key(contest.slug, "cache", district or "city", str(limit), str(offset))
    try:
        cached = client.get(cache)
    except redis.RedisError as exc:
        _note_failure(exc)
        raise Unavailable() from exc
    if cached is not None:
        return cached
    body = json.dumps(top(contest, district, limit, offset), ensure_ascii=False, separators=(",", ":")).encode()
    try:
        client.set(cache, body, px=current_app.config["LEADERBOARD_CACHE_MS"])
    except redis.RedisError as exc:
        _note_failure(exc)
    return body


def standing(contest: Contest, user: User) -> dict:
    """{best: {score, time_used_ms} | None, rank: {city, district}}; raises Unavailable."""
    client = redis_client()
    member = str(user.id)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zscore(_key(contest.slug, "city"), member)
        pipe.zrevrank(_key(contest.slug, "city"), member)
        pipe.zrevrank(_key(contest.slug, "d", user.district or "-"), member)
        encoded, city_rank, district_rank = pipe.execute()
    except redis.RedisError as exc:
        _note_failure(exc)
        raise Unavailable() from exc
    if encoded is None:
        return {"best": None, "rank": {"city": None, "district": None}}
    score, time_used_ms, _ = decode(encoded)
    return {
        "best": {"score": score, "time_used_ms": time_used_ms},
        "rank": {"city": city_rank + 1, "district": None if district_rank is None else district_rank + 1},
    }


def rank_or_none(contest: Contest, user: User) -> dict | None:
    try:
        return standing(contest, user)["rank"]
    except Unavailable:
        return None


def districts(contest: Contest) -> list[dict]:
    """District aggregates ordered by participation per 10,000 residents; raises Unavailable."""
    try:
        agg = redis_client().hgetall(_key(contest.slug, "agg"))
    except redis.RedisError as exc:
        _note_failure(exc)
        raise Unavailable() from exc
    values = {k.decode(): int(v) for k, v in agg.items()}
    rows = []
    for d in contest.districts:
        participants = values.get(f"{d['code']}:participants", 0)
        best_sum = values.get(f"{d['code']}:best_sum", 0)
        rows.append({
            "code": d["code"], "name": d["name"], "participants": participants,
            "attempts": values.get(f"{d['code']}:attempts", 0),
            "average_score": round(best_sum / participants, 2) if participants else 0,
            "participation_per_10k": round(participants * 10000 / d["population"], 2),
        })
    rows.sort(key=lambda r: (-r["participation_per_10k"], r["code"]))
    return rows


def totals(contest: Contest) -> dict:
    """{participants, attempts, updated_at (ms or None)}; raises Unavailable."""
    client = redis_client()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hmget(_key(contest.slug, "agg"), ["all:participants", "all:attempts"])
        pipe.hget(_key(contest.slug, "meta"), "updated_at")
        (participants, attempts), updated = pipe.execute()
    except redis.RedisError as exc:
        _note_failure(exc)
        raise Unavailable() from exc
    return {"participants": int(participants or 0), "attempts": int(attempts or 0),
            "updated_at": int(updated) if updated else None}


def events_channel(contest: Contest) -> str:
    return _key(contest.slug, "events")


def subscribe(contest: Contest):
    """A pub/sub object subscribed to the contest's result events (for SSE)."""
    pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(events_channel(contest))
    return pubsub


# ---- rebuilding from SQL ----------------------------------------------------

def _best_results(session, contest: Contest):
    """Yield (user id, name, district, best attempt, attempts) from SQL."""
    rows = session.execute(
        select(Attempt.id, Attempt.user_id, Attempt.score, Attempt.time_used_ms, Attempt.finished_at,
               User.name, User.district)
        .join(User, User.id == Attempt.user_id)
        .where(*_finished_clause(contest))
        .execution_options(yield_per=5000)
    )
    return rows


def _finished_clause(contest: Contest):
    return (Attempt.contest_id == contest.id, Attempt.practice.is_(False), Attempt.status != ATTEMPT_ACTIVE)


def rebuild(session, contest: Contest, client=None) -> dict:
    """Recompute every key of the contest from SQL into fresh keys and swap them in atomically."""
    client = client or redis_client()
    started = time.time()
    best: dict[int, tuple] = {}
    attempt_ids: list[int] = []
    counts: dict[str, int] = {}
    for row in _best_results(session, contest):
        finish_s = int((row.finished_at - contest.starts_at).total_seconds())
        encoded = encode(row.score, row.time_used_ms, finish_s)
        attempt_ids.append(row.id)
        district = row.district or "-"
        counts[f"{district}:attempts"] = counts.get(f"{district}:attempts", 0) + 1
        if row.user_id not in best or encoded > best[row.user_id][0]:
            best[row.user_id] = (encoded, row.score, row.name, district)
    agg = dict(counts)
    agg["all:attempts"] = len(attempt_ids)
    for _encoded, score, _name, district in best.values():
        agg[f"{district}:participants"] = agg.get(f"{district}:participants", 0) + 1
        agg[f"{district}:best_sum"] = agg.get(f"{district}:best_sum", 0) + score
    agg["all:participants"] = len(best)
    agg["all:best_sum"] = sum(v[1] for v in best.values())

    slug = contest.slug
    district_codes = {d["code"] for d in contest.districts} | {v[3] for v in best.values()}
    final = {"city": _key(slug, "city"), "names": _key(slug, "names"), "agg": _key(slug, "agg"),
             "recorded": _key(slug, "recorded")}
    final |= {f"d:{code}": _key(slug, "d", code) for code in district_codes}
    fresh = {name: _key(slug, "new", name) for name in final}
    pipe = client.pipeline(transaction=False)
    for key in fresh.values():
        pipe.delete(key)
    items = list(best.items())
    for i in range(0, len(items), 10000):
        chunk = items[i:i + 10000]
        pipe.zadd(fresh["city"], {str(uid): v[0] for uid, v in chunk})
        by_district: dict[str, dict] = {}
        for uid, v in chunk:
            by_district.setdefault(v[3], {})[str(uid)] = v[0]
        for code, members in by_district.items():
            pipe.zadd(fresh[f"d:{code}"], members)
        pipe.hset(fresh["names"], mapping={str(uid): f"{mask_name(v[2])}\t{'' if v[3] == '-' else v[3]}" for uid, v in chunk})
        pipe.execute()
    for i in range(0, len(attempt_ids), 10000):
        client.sadd(fresh["recorded"], *attempt_ids[i:i + 10000])
    if agg:
        client.hset(fresh["agg"], mapping=agg)
    swap = client.pipeline(transaction=True)
    for name, key in final.items():
        if client.exists(fresh[name]):
            swap.rename(fresh[name], key)
        else:
            swap.delete(key)
    now_ms = int(time.time() * 1000)
    swap.hset(_key(slug, "meta"), mapping={"built_at": now_ms, "updated_at": now_ms})
    swap.execute()
    # Attempts finished while we read SQL went to the old keys: count them again.
    snapshot = set(attempt_ids)
    late = [i for i in session.scalars(select(Attempt.id).where(*_finished_clause(contest))) if i not in snapshot]
    for attempt in session.scalars(select(Attempt).where(Attempt.id.in_(late))) if late else []:
        record_attempt(contest, attempt, attempt.user, client)
    session.execute(update(Attempt).where(Attempt.contest_id == contest.id, Attempt.board_pending.is_(True))
                    .values(board_pending=False))
    session.commit()
    _drop_cache(client, slug)
    client.publish(_key(slug, "events"), "rebuild")
    return {"participants": len(best), "attempts": len(attempt_ids), "seconds": round(time.time() - started, 3)}


def _drop_cache(client, slug: str) -> None:
    for key in client.scan_iter(match=_key(slug, "cache", "*"), count=1000):
        client.delete(key)


def catch_up(session, contest: Contest, force: bool = False) -> str | None:
    """Bring Redis back in line with SQL after an outage, at most every few seconds per process.

    A board that vanished (Redis restarted empty) is rebuilt under a lock;
    otherwise attempts flagged board_pending are recorded. Returns what it did.
    """
    now = time.monotonic()
    if not force and now - _last_catch_up.get(contest.slug, -1e9) < CATCH_UP_EVERY_S:
        return None
    _last_catch_up[contest.slug] = now
    try:
        client = redis_client()
        if not client.exists(_key(contest.slug, "meta")):
            if client.set(_key(contest.slug, "lock", "rebuild"), "1", nx=True, ex=120):
                try:
                    rebuild(session, contest, client)
                finally:
                    client.delete(_key(contest.slug, "lock", "rebuild"))
                return "rebuilt"
            return None
        pending = session.scalars(
            select(Attempt).where(Attempt.contest_id == contest.id, Attempt.board_pending.is_(True)).limit(1000)
        ).all()
        for attempt in pending:
            if not record_attempt(contest, attempt, attempt.user, client):
                return None
            attempt.board_pending = False
        if pending:
            session.commit()
            return "synced"
    except redis.RedisError as exc:
        _note_failure(exc)
    return None


def clear(contest: Contest, client=None) -> None:
    """Delete every key of the contest (tests and contest removal)."""
    client = client or redis_client()
    for key in client.scan_iter(match=_key(contest.slug, "*"), count=1000):
        client.delete(key)

