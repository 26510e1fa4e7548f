"""The board's order is the documented one (docs/leaderboard.md, "Score encoding"): higher score,
then less time used, then the earlier finish, then the earlier first attempt, then the smaller
user id, numerically. Checked by ZADDing encoded entries into the test Redis and reading them
back with ZREVRANGE, by the record script with attempts told in any order, and against
quiz.standings.final_standings for rows built in SQL."""
import random
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quiz import leaderboard
from quiz.extensions import db
from quiz.models import Attempt, Contest, User
from quiz.standings import final_standings

TWO_HOURS_MS = 7_200_000
YEAR_S = 366 * 86400 + 2 * 3600  # a finish may come up to a paper after the window's end
SCRATCH = "scratch:board-order"
FIXTURES = [HealthCheck.function_scoped_fixture]  # the Redis and SQL fixtures are cleaned by hand


def documented_key(row: tuple) -> tuple:
    """The order of docs/leaderboard.md for (score, time_used_ms, finish_s, first_s, user_id)."""
    score, time_used_ms, finish_s, first_s, user_id = row
    return (-score, time_used_ms, finish_s, first_s, user_id)


# Few distinct values as often as wide ones, so ties at every level (and exact twins) come up.
scores = st.one_of(st.sampled_from([0, 100, 2047]), st.integers(0, 2047))
times = st.one_of(st.sampled_from([0, 60_000, 60_001, TWO_HOURS_MS]), st.integers(0, TWO_HOURS_MS))
seconds = st.one_of(st.sampled_from([0, 59, 60, YEAR_S]), st.integers(0, YEAR_S))
user_ids = st.one_of(st.sampled_from([1, 9, 10, 99, 100, 2**31 - 1]), st.integers(1, 2**31 - 1))
rows = st.lists(st.tuples(scores, times, seconds, seconds, user_ids), min_size=1, max_size=60,
                unique_by=lambda row: row[4])  # one entry per citizen


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURES)
@given(rows)
def test_zrevrange_of_the_encoding_is_the_documented_order(redis, rows):
    redis.delete(SCRATCH)
    redis.zadd(SCRATCH, dict(reversed(leaderboard.encode(*row)) for row in rows))
    board = [leaderboard.decode(score, member) for member, score in redis.zrevrange(SCRATCH, 0, -1, withscores=True)]
    redis.delete(SCRATCH)
    assert board == sorted(rows, key=documented_key)


def test_nine_ranks_above_ten_and_twins_by_first_attempt(redis):
    twins = [(80, 300_000, 5000, 40, 10), (80, 300_000, 5000, 40, 9),  # exact twins: the smaller id
             (80, 300_000, 5000, 41, 2), (80, 300_000, 5000, 39, 100)]  # same ms and second: first attempt
    redis.zadd(SCRATCH, dict(reversed(leaderboard.encode(*row)) for row in twins))
    ranked = [leaderboard.member_user_id(m) for m in redis.zrevrange(SCRATCH, 0, -1)]
    redis.delete(SCRATCH)
    assert ranked == [100, 9, 10, 2]


# ---- the record script: each citizen's best and first attempt, told in any order ----------

attempts = st.lists(st.tuples(st.sampled_from([9, 10, 11, 2**31 - 1]), st.sampled_from([60, 80, 100]),
                              st.sampled_from([100_000, 100_001, 200_000]), st.integers(0, 5), st.integers(0, 5)),
                    min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(attempts)
def test_recording_in_any_order_gives_the_documented_order(contest, redis, attempts):
    """(user id, score, time_used_ms, start_s, duration_s): the board keeps each citizen's best by
    (score, time, finish) and their earliest start, whatever the order attempts are told in."""
    leaderboard.clear(contest)
    leaderboard.rebuild(db.session, contest)
    best, first = {}, {}
    for n, (user_id, score, time_used_ms, start_s, duration_s) in enumerate(attempts, start=1):
        finish_s = start_s + duration_s
        user = User(id=user_id, name=f"市民{user_id}", district="wujin", role="citizen", staff=False)
        attempt = Attempt(id=n, score=score, time_used_ms=time_used_ms,
                          started_at=contest.starts_at + timedelta(seconds=start_s),
                          finished_at=contest.starts_at + timedelta(seconds=finish_s))
        assert leaderboard.record_attempt(contest, attempt, user, rebuild_if_missing=False)
        mine = (-score, time_used_ms, finish_s)
        best[user_id] = min(best.get(user_id, mine), mine)
        first[user_id] = min(first.get(user_id, start_s), start_s)
    expected = sorted(((-b[0], b[1], b[2], first[uid], uid) for uid, b in best.items()), key=documented_key)
    board = redis.zrevrange(f"quiz:{{{contest.slug}}}:city", 0, -1, withscores=True)
    assert [leaderboard.decode(score, member) for member, score in board] == expected
    for rank, row in enumerate(expected, start=1):
        user = User(id=row[4], district="wujin")
        assert leaderboard.standing(contest, user)["rank"] == {"city": rank, "district": rank}
    assert leaderboard.totals(contest) | {"updated_at": None} == {
        "participants": len(best), "attempts": len(attempts), "updated_at": None}
    [wujin] = [row for row in leaderboard.districts(contest) if row["code"] == "wujin"]
    assert wujin["average_score"] == round(sum(-b[0] for b in best.values()) / len(best), 2)  # best_sum's deltas


# ---- against the SQL standings --------------------------------------------------------------

REGISTERED = datetime(2021, 5, 1)


def add_citizen(user_id: int, district: str = "wujin") -> User:
    user = User(id=user_id, phone=f"139{user_id:08d}", name=f"市民{user_id}", district=district,
                password_hash="x", role="citizen", created_at=REGISTERED)
    db.session.add(user)
    return user


def add_attempt(contest: Contest, user: User, score: int, time_used_ms: int, start_s: float, finish_s: float) -> None:
    started = contest.starts_at + timedelta(seconds=start_s)
    db.session.add(Attempt(user_id=user.id, contest_id=contest.id, practice=False, status="submitted",
                           day=started.date().isoformat(), started_at=started,
                           deadline=started + timedelta(seconds=contest.time_limit_s),
                           finished_at=contest.starts_at + timedelta(seconds=finish_s),
                           score=score, max_score=100, time_used_ms=time_used_ms))


def board_user_ids(redis, contest, district: str | None = None) -> list[int]:
    key = f"quiz:{{{contest.slug}}}:" + (f"d:{district}" if district else "city")
    return [leaderboard.member_user_id(m) for m in redis.zrevrange(key, 0, -1)]


def test_the_board_orders_sql_rows_as_final_standings_does(contest, redis):
    """Citizens with equal score, equal time to the ms and a finish in the same second (at
    different microseconds), told apart by their first attempt; exact twins, and ids 9 and 10."""
    rng = random.Random(17)
    citizens = {uid: add_citizen(uid, rng.choice(["wujin", "xinbei"])) for uid in [*range(1, 40), 99, 100]}
    db.session.flush()
    expected = []
    for uid, user in citizens.items():
        rows = []
        for _ in range(rng.randrange(1, 4)):
            start_s = rng.choice([100, 100.25, 100.75, 101, 3000]) + rng.randrange(0, 3) * 86400
            score, time_used_ms = rng.choice([60, 80]), rng.choice([200_000, 200_001])
            finish_s = rng.choice([start_s + 200, 400.1, 400.9])  # 400.1 and 400.9: the same second
            add_attempt(contest, user, score, time_used_ms, start_s, finish_s)
            rows.append((score, time_used_ms, int(finish_s), int(start_s)))
        score, time_used_ms, finish_s = min((-r[0], r[1], r[2]) for r in rows)
        expected.append((-score, time_used_ms, finish_s, min(r[3] for r in rows), uid))
    # The must-show pairs: the same result in the same second, first attempts a second apart;
    # exact twins 9 and 10 (the smaller id first, not "10" < "9" as strings).
    for uid, start_s in ((9, 500), (10, 500), (99, 501), (100, 499)):
        db.session.execute(db.delete(Attempt).where(Attempt.user_id == uid))
        add_attempt(contest, citizens[uid], 100, 123_456, start_s, 86_400.5 + (uid == 10) * 0.4)
        expected = [row for row in expected if row[4] != uid] + [(100, 123_456, 86_400, start_s, uid)]
    db.session.commit()
    expected.sort(key=documented_key)
    assert [row[4] for row in expected[:4]] == [100, 9, 10, 99]

    standings = [row.user_id for row in final_standings(db.session, contest)]
    assert standings == [row[4] for row in expected]
    leaderboard.rebuild(db.session, contest)
    assert board_user_ids(redis, contest) == standings
    for district in ("wujin", "xinbei"):
        assert board_user_ids(redis, contest, district) == [
            row.user_id for row in final_standings(db.session, contest, district=district)]
    # The same board from the record script, attempts told newest first into a built, empty board.
    rebuilt = redis.zrevrange(f"quiz:{{{contest.slug}}}:city", 0, -1, withscores=True)
    for key in redis.scan_iter(match=f"quiz:{{{contest.slug}}}:*"):
        if not key.endswith(b":meta"):
            redis.delete(key)
    for attempt in db.session.scalars(db.select(Attempt).order_by(Attempt.id.desc())).all():
        assert leaderboard.record_attempt(contest, attempt, attempt.user, rebuild_if_missing=False)
    assert redis.zrevrange(f"quiz:{{{contest.slug}}}:city", 0, -1, withscores=True) == rebuilt
