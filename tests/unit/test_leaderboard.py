"""The Redis leaderboard: exact ordering, never regressing, atomic under concurrent
writers, and a rebuild from SQL that gives exactly what the incremental updates gave."""
import multiprocessing
import random
import threading
from datetime import timedelta

import pytest
import redis as redis_lib
from conftest import DURING, SAMPLE_CONTEST, finish_attempt

from quiz import leaderboard
from quiz.contest import attempts
from quiz.contest.definition import import_contest
from quiz.extensions import db
from quiz.models import Attempt, Contest, User

DISTRICTS = ["liyang", "jintan", "wujin", "xinbei", "tianning", "zhonglou", "jingkai"]


# ---- the encoding -------------------------------------------------------------

def test_encoding_orders_by_score_then_time_then_finish_then_first_then_id():
    results = [(90, 300_000, 50, 0, 1), (100, 500_000, 10, 0, 2), (100, 200_000, 900, 0, 3),
               (100, 200_000, 100, 50, 4), (100, 200_000, 100, 40, 10), (100, 200_000, 100, 40, 9), (0, 0, 0, 0, 5)]
    ranked = sorted(results, key=lambda r: leaderboard.encode(*r), reverse=True)  # what ZREVRANGE does
    assert [r[4] for r in ranked] == [9, 10, 4, 3, 2, 1, 5]


def test_encoding_is_exact_at_its_limits():
    assert leaderboard.board_score(2047, 0) == 2**34 - 1  # far below 2**53: a double holds it exactly
    two_hours = 7_200_000
    for result in [(2047, 0, 0, 0, 1), (2047, 1, 0, 0, 2**31 - 1), (1, two_hours, 366 * 86400, 366 * 86400, 1),
                   (0, 0, 0, 0, 1)]:
        score, member = leaderboard.encode(*result)
        assert float(score) == score and len(member) == 26
        assert leaderboard.decode(float(score), member.encode()) == result
    # One millisecond or one second apart at the top score still ranks apart.
    assert leaderboard.encode(2047, 1, 0, 0, 1) < leaderboard.encode(2047, 0, 0, 0, 1)
    assert leaderboard.encode(2047, 0, 1, 0, 1) < leaderboard.encode(2047, 0, 0, 0, 1)
    assert leaderboard.encode(2047, 0, 0, 1, 1) < leaderboard.encode(2047, 0, 0, 0, 1)


def test_redis_keeps_the_encoded_value_exactly(app, redis):
    score, member = leaderboard.encode(2047, 123_456, 4_000_000, 3_000_000, 77)
    redis.zadd("scratch", {member: score})
    assert int(redis.zscore("scratch", member)) == score
    redis.delete("scratch")


# ---- recording ------------------------------------------------------------------

def finished_attempt(contest, user, attempt_id, score, time_used_ms, finish_s, start_s=None) -> Attempt:
    """An attempt as SQL holds it after a submit (not saved: the script only reads these fields)."""
    start_s = finish_s if start_s is None else start_s
    return Attempt(id=attempt_id, user_id=user.id, contest_id=contest.id, score=score, time_used_ms=time_used_ms,
                   started_at=contest.starts_at + timedelta(seconds=start_s),
                   finished_at=contest.starts_at + timedelta(seconds=finish_s), status="submitted", practice=False)


def entry(redis, contest, user_id):
    """(score, time_used_ms, finish_s, first_s) of the citizen's city entry."""
    member = redis.hget(f"quiz:{{{contest.slug}}}:members", str(user_id))
    score = member and redis.zscore(f"quiz:{{{contest.slug}}}:city", member)
    return leaderboard.decode(score, member)[:4] if score is not None else None


def test_a_worse_or_equal_retry_leaves_the_best(contest, citizens, redis):
    leaderboard.rebuild(db.session, contest)
    citizen = citizens.make(name="李小龙", district="jintan")
    assert leaderboard.record_attempt(contest, finished_attempt(contest, citizen, 1, 80, 200_000, 100), citizen)
    leaderboard.record_attempt(contest, finished_attempt(contest, citizen, 2, 70, 100_000, 200), citizen)
    leaderboard.record_attempt(contest, finished_attempt(contest, citizen, 3, 80, 200_000, 300), citizen)
    leaderboard.record_attempt(contest, finished_attempt(contest, citizen, 4, 80, 250_000, 400), citizen)
    assert entry(redis, contest, citizen.id) == (80, 200_000, 100, 100)
    leaderboard.record_attempt(contest, finished_attempt(contest, citizen, 5, 80, 150_000, 500), citizen)
    assert entry(redis, contest, citizen.id) == (80, 150_000, 500, 100)
    # An attempt started earlier and told late (a catch-up) moves the first attempt only.
    leaderboard.record_attempt(contest, finished_attempt(contest, citizen, 6, 10, 900_000, 600, start_s=20), citizen)
    assert entry(redis, contest, citizen.id) == (80, 150_000, 500, 20)
    assert redis.zcard(f"quiz:{{{contest.slug}}}:city") == 1 == redis.zcard(f"quiz:{{{contest.slug}}}:d:jintan")
    # The same attempt told twice (a retried submit) counts once.
    leaderboard.record_attempt(contest, finished_attempt(contest, citizen, 5, 80, 150_000, 500), citizen)
    [jintan] = [row for row in leaderboard.districts(contest) if row["code"] == "jintan"]
    assert (jintan["participants"], jintan["attempts"], jintan["average_score"]) == (1, 6, 80)
    assert leaderboard.top(contest, "jintan")["entries"] == [
        {"rank": 1, "name": "李*龙", "district": "jintan", "score": 80, "time_used_ms": 150_000}]


def test_standing_and_rank_or_none(contest, citizens):
    leaderboard.rebuild(db.session, contest)
    first, second, third = (citizens.make(district=d) for d in ("wujin", "xinbei", "wujin"))
    leaderboard.record_attempt(contest, finished_attempt(contest, first, 1, 90, 300_000, 10), first)
    leaderboard.record_attempt(contest, finished_attempt(contest, second, 2, 95, 300_000, 10), second)
    assert leaderboard.standing(contest, first) == {"best": {"score": 90, "time_used_ms": 300_000},
                                                    "rank": {"city": 2, "district": 1}}
    assert leaderboard.rank_or_none(contest, second) == {"city": 1, "district": 1}
    assert leaderboard.standing(contest, third) == {"best": None, "rank": {"city": None, "district": None}}
    assert leaderboard.rank_or_none(contest, third) is None


# ---- concurrent writers -----------------------------------------------------------

def _write_results(redis_url, slug, starts_at, results):
    """One app host: its own Redis client, recording (user, district, attempt id, score, ms, finish_s)."""
    client = redis_lib.Redis.from_url(redis_url)
    contest = Contest(slug=slug, starts_at=starts_at)
    try:
        for user_id, district, attempt_id, score, ms, finish_s in results:
            user = User(id=user_id, name=f"市民{user_id}", district=district, role="citizen", staff=False)
            attempt = Attempt(id=attempt_id, score=score, time_used_ms=ms,
                              started_at=starts_at + timedelta(seconds=finish_s - ms // 1000),
                              finished_at=starts_at + timedelta(seconds=finish_s))
            assert leaderboard.record_attempt(contest, attempt, user, client, rebuild_if_missing=False)
    finally:
        client.close()


def test_concurrent_writers_keep_each_citizens_best(contest, redis, redis_url):
    """Four threads and two processes, each with its own client, submit interleaved
    results for the same citizens: the board ends with each citizen's best, counted once."""
    leaderboard.rebuild(db.session, contest)
    rng = random.Random(7)
    results = []
    for user_id in range(1, 41):
        district = DISTRICTS[user_id % len(DISTRICTS)]
        for n in range(12):
            results.append((user_id, district, user_id * 100 + n, rng.randrange(0, 101, 5),
                            rng.randrange(60_000, 600_000, 1000), rng.randrange(600, 3600)))
    rng.shuffle(results)
    shares = [results[i::6] for i in range(6)]
    slug, starts = contest.slug, contest.starts_at
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=_write_results, args=(redis_url, slug, starts, shares[i])) for i in (0, 1)]
    threads = [threading.Thread(target=_write_results, args=(redis_url, slug, starts, shares[i])) for i in (2, 3, 4, 5)]
    for worker in processes + threads:
        worker.start()
    for worker in processes + threads:
        worker.join()
    assert [p.exitcode for p in processes] == [0, 0]

    best, first = {}, {}
    for user_id, district, _id, score, ms, finish_s in results:
        mine = (leaderboard.board_score(score, ms), -finish_s, score, district)
        best[user_id] = max(best.get(user_id, mine), mine)
        first[user_id] = min(first.get(user_id, finish_s - ms // 1000), finish_s - ms // 1000)
    board = dict(redis.zrange(f"quiz:{{{slug}}}:city", 0, -1, withscores=True))
    assert {k.decode(): int(v) for k, v in board.items()} == {
        leaderboard.board_member(-b[1], first[uid], uid): b[0] for uid, b in best.items()}
    totals = leaderboard.totals(contest)
    assert (totals["participants"], totals["attempts"]) == (40, len(results))
    by_district = {row["code"]: row for row in leaderboard.districts(contest)}
    for code in DISTRICTS:
        scores = [b[2] for b in best.values() if b[3] == code]
        assert by_district[code]["participants"] == len(scores)
        assert by_district[code]["average_score"] == round(sum(scores) / len(scores), 2)


# ---- rebuild equals the incremental updates ------------------------------------------

def play(session, citizen, contest, now, rng):
    """Start and submit an attempt with a random share of right answers and a random duration."""
    attempt, _ = attempts.start_attempt(session, citizen, contest, now, rng)
    right = rng.random()
    answers = {}
    for item in attempt.items:
        answer = attempts.to_display(item, item.question.answer)
        if rng.random() >= right:  # a wrong answer
            answer = (["true"] if answer == ["false"] else ["false"]) if item.question.type == "judge" \
                else [key for key in "ABCD" if key not in answer][:1]
        answers[item.question.qid] = answer
    attempts.save_answers(session, citizen, attempt.id, answers, now + timedelta(seconds=5))
    return attempts.submit_attempt(session, citizen, attempt.id, now + timedelta(seconds=rng.randrange(20, 400)))


def board_state(redis, contest) -> dict:
    slug = contest.slug
    state = {"city": redis.zrange(f"quiz:{{{slug}}}:city", 0, -1, withscores=True),
             "members": redis.hgetall(f"quiz:{{{slug}}}:members"), "names": redis.hgetall(f"quiz:{{{slug}}}:names"), "agg": redis.hgetall(f"quiz:{{{slug}}}:agg"),
             "recorded": redis.smembers(f"quiz:{{{slug}}}:recorded")}
    for code in DISTRICTS:
        state[code] = redis.zrange(f"quiz:{{{slug}}}:d:{code}", 0, -1, withscores=True)
    return state


def test_rebuild_gives_the_boards_the_incremental_updates_gave(contest, citizens, redis, rng):
    people = [citizens.make(district=DISTRICTS[i % len(DISTRICTS)], name=f"测试者{i:02d}号") for i in range(21)]
    outcomes = []
    for day in range(4):  # one attempt a day: improvements and worse retries across days
        now = DURING + timedelta(days=day, minutes=day * 7)
        for citizen in rng.sample(people, 15):
            attempt = play(db.session, citizen, contest, now, rng)
            finish_s = leaderboard.seconds_after_start(contest, attempt.finished_at)
            outcomes.append((citizen.id, (leaderboard.board_score(attempt.score, attempt.time_used_ms), -finish_s)))
            now += timedelta(seconds=rng.randrange(1, 90))
    later = [(enc, max(e for uid2, e in outcomes[:i] if uid2 == uid)) for i, (uid, enc) in enumerate(outcomes)
             if any(uid2 == uid for uid2, _ in outcomes[:i])]
    assert any(new > old for new, old in later) and any(new < old for new, old in later)  # improvements, worse retries
    incremental = board_state(redis, contest)
    assert len(incremental["city"]) == len({a.user_id for a in db.session.scalars(db.select(Attempt))})

    stats = leaderboard.rebuild(db.session, contest)
    assert stats["attempts"] == len(outcomes)
    rebuilt = board_state(redis, contest)
    assert rebuilt == incremental
    assert not redis.keys(f"quiz:{{{contest.slug}}}:new:*")


def test_every_key_of_a_contest_carries_its_hash_tag(contest, citizens, redis, rng):
    citizen = citizens.make()
    play(db.session, citizen, contest, DURING, rng)
    leaderboard.top_json(contest)
    keys = [k.decode() for k in redis.keys("*") if not k.startswith(b"LIMITER")]
    assert keys and all(k.startswith(f"quiz:{{{contest.slug}}}:") for k in keys)


# ---- catch-up -------------------------------------------------------------------

def test_a_lost_board_is_unavailable_until_catch_up_rebuilds_it(contest, citizens, redis, rng):
    citizen = citizens.make(name="王五")
    play(db.session, citizen, contest, DURING, rng)
    before = board_state(redis, contest)
    leaderboard.clear(contest)  # what a Redis restarted without its data looks like
    with pytest.raises(leaderboard.Unavailable):
        leaderboard.top(contest)
    assert leaderboard.rank_or_none(contest, citizen) is None
    assert leaderboard.catch_up(db.session, contest, force=True) == "rebuilt"
    assert board_state(redis, contest) == before
    assert leaderboard.top(contest)["entries"][0]["name"] == "王*"


def test_catch_up_records_attempts_flagged_pending(contest, citizens, redis, rng):
    citizen = citizens.make()
    leaderboard.rebuild(db.session, contest)
    attempt = play(db.session, citizen, contest, DURING, rng)
    # A built board that missed the attempt, as when the write failed on a Redis blip.
    redis.delete(*(f"quiz:{{{contest.slug}}}:{name}" for name in ("city", "recorded", "agg", "d:wujin")))
    db.session.get(Attempt, attempt.id).board_pending = True
    db.session.commit()
    assert leaderboard.catch_up(db.session, contest, force=True) == "synced"
    assert leaderboard.standing(contest, citizen)["best"]["score"] == attempt.score
    assert db.session.get(Attempt, attempt.id).board_pending is False
    assert leaderboard.catch_up(db.session, contest, force=True) is None


def test_cli_rebuild(contest, citizens, runner, rng):
    play(db.session, citizens.make(), contest, DURING, rng)
    result = runner.invoke(args=["leaderboard", "rebuild", contest.slug])
    assert result.exit_code == 0, result.output
    assert "1 人参赛，1 份答卷" in result.output
    assert runner.invoke(args=["leaderboard", "rebuild", "no-such"]).exit_code != 0



# ---- long windows and papers (issue 17) ----------------------------------------------------

def test_a_90_day_contest_with_30_minute_papers_imports_and_ranks(app, sample_bank, citizens, redis):
    raw = SAMPLE_CONTEST.read_text(encoding="utf-8").replace(
        "ends_at: 2021-06-05T22:00:00+08:00", "ends_at: 2021-08-20T08:00:00+08:00").replace(
        "time_limit_s: 600", "time_limit_s: 1800")
    contest, _ = import_contest(db.session, raw.encode())
    assert contest.time_limit_s == 1800 and contest.ends_at - contest.starts_at == timedelta(days=90)
    slow, fast, lower = citizens.make(), citizens.make(district="xinbei"), citizens.make()
    day_80, day_89 = contest.starts_at + timedelta(days=80), contest.starts_at + timedelta(days=89, hours=1)
    late = finish_attempt(slow, contest, right=20, seconds=29 * 60, now=day_80)
    finish_attempt(fast, contest, right=20, seconds=28 * 60 + 59, now=day_89)
    finish_attempt(lower, contest, right=19, seconds=60, now=contest.starts_at + timedelta(minutes=1))
    assert late.time_used_ms == 29 * 60_000  # past the old 1,048,575 ms limit, after its 48 days
    board = leaderboard.top(contest)
    assert [(e["score"], e["time_used_ms"]) for e in board["entries"]] == [
        (100, 1_739_000), (100, 1_740_000), (95, 60_000)]
    assert leaderboard.standing(contest, slow) == {"best": {"score": 100, "time_used_ms": 1_740_000},
                                                   "rank": {"city": 2, "district": 1}}
    incremental = board_state(redis, contest)
    leaderboard.rebuild(db.session, contest)
    assert board_state(redis, contest) == incremental
