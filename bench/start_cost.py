"""The start path's cost by bank size and attempt number: in process, against PostgreSQL.

    .venv/bin/python bench/start_cost.py
    DATABASE_URL=postgresql://... .venv/bin/python bench/start_cost.py --citizens 40 --sizes 400,10000

Resets the database named by DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/quiz_start,
created if missing; never point it at real data) and FLUSHDB on REDIS_URL (default
redis://127.0.0.1:6379/8). Imports one bank per size (the sample bank's questions repeated,
bench/big_bank.py) and the sample contest's paper rules on each, then lets `--citizens`
citizens start and hand in seven timed attempts each through the API's start
(attempts.begin_attempt; attempts.start_attempt in a tree without it), and
prints for the first to the seventh attempt the start's wall time (median, p90) and the
table rows PostgreSQL read per start (tup_returned + tup_fetched of the database). Beside
it, the draw alone: the SQL draw (quiz/contest/paper.py) against the previous way (read the
whole pool through the ORM, filter and draw in Python: attempts.draw_paper).
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from big_bank import bench_contest, big_bank, empty_services  # noqa: E402


def rows_read(session) -> int:
    """Rows PostgreSQL has returned or fetched in this database so far (statistics flushed first)."""
    from sqlalchemy import text

    session.execute(text("SELECT pg_stat_force_next_flush()"))
    session.commit()
    time.sleep(1.2)  # the flush happens when the backend next idles
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    return session.scalar(text("SELECT tup_returned + tup_fetched FROM pg_stat_database WHERE datname = current_database()"))


def vacuum_analyze(engine) -> None:
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=40)
    parser.add_argument("--sizes", default="400,10000")
    parser.add_argument("--draws", type=int, default=50, help="draws timed alone per size and way")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/quiz_start")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8")
    empty_services(database_url, redis_url)
    workdir = Path(tempfile.mkdtemp(prefix="quiz-start-cost-"))
    os.environ.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench-secret"})

    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from quiz import create_app
    from quiz.bank.importer import import_bank
    from quiz.config import Config
    from quiz.contest import attempts, paper
    from quiz.contest.definition import import_contest
    from quiz.extensions import db
    from quiz.models import Question, User

    app = create_app(Config(str(workdir / "instance")))
    rng = random.Random(20)
    with app.app_context():
        upgrade()
        start = getattr(attempts, "begin_attempt", attempts.start_attempt)  # what POST /api/v1/attempts runs
        print(f"start path ({start.__name__}), {args.citizens} citizens per bank, each starting and handing in"
              " seven timed attempts")
        print(f"{'bank':>7} {'attempt':>7} {'median ms':>10} {'p90 ms':>8} {'rows read':>10}")
        draws = {}
        for index, size in enumerate(int(s) for s in args.sizes.split(",")):
            slug = f"bench-{size}"
            import_bank(db.session, big_bank(size, slug), f"{slug}.yaml", max_bytes=64 * 1024 * 1024)
            contest, _ = import_contest(db.session, bench_contest(f"start-{size}", slug))
            db.session.commit()
            base = contest.starts_at + timedelta(hours=1)
            user_ids = db.session.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), [
                {"phone": f"136{index:02d}{n:06d}", "name": f"压测{n}", "district": "wujin", "role": "citizen",
                 "session_version": 1, "created_at": base} for n in range(args.citizens)]).all()
            db.session.commit()
            db.session.commit()
            vacuum_analyze(db.engine)  # now, not by autovacuum during the measured starts
            for k in range(7):
                times, started = [], []
                users = [db.session.get(User, uid) for uid in user_ids]
                before = rows_read(db.session)
                for n, user in enumerate(users):
                    now = base + timedelta(minutes=30 * k, seconds=n)
                    t0 = time.perf_counter()
                    attempt, created = start(db.session, user, contest, now, rng)
                    times.append(1000 * (time.perf_counter() - t0))
                    assert created and attempt.question_count == contest.questions_per_attempt
                    started.append((user, attempt.id, now))
                per_start = (rows_read(db.session) - before) / len(user_ids)
                for user, attempt_id, now in started:
                    attempts.submit_attempt(db.session, user, attempt_id, now + timedelta(minutes=1))
                vacuum_analyze(db.engine)  # as autovacuum would, for the plans of a contest under way
                print(f"{size:>7} {k + 1:>7} {statistics.median(times):>10.2f} {percentile(times, 0.9):>8.2f} {per_start:>10.0f}")

            # the draw alone, new and old, for a citizen with seven attempts served
            contest = db.session.get(type(contest), contest.id)
            user = db.session.get(User, user_ids[0])
            seen = attempts.served_qids(db.session, user, contest)
            new, old = [], []
            for _ in range(args.draws):
                t0 = time.perf_counter()
                paper.draw_paper(db.session, contest.bank_id, contest.paper, contest.questions_per_attempt, seen, rng)
                new.append(1000 * (time.perf_counter() - t0))
                db.session.rollback()
                t0 = time.perf_counter()
                pool = db.session.scalars(select(Question).where(Question.bank_id == contest.bank_id,
                                                                 Question.retired.is_(False))).all()
                attempts.draw_paper(pool, contest.paper, contest.questions_per_attempt, seen, rng)
                old.append(1000 * (time.perf_counter() - t0))
                db.session.rollback()
            draws[size] = (statistics.median(new), statistics.median(old), len(pool))
        print("\nthe draw alone (a citizen with seven attempts served), median ms")
        print(f"{'bank':>7} {'SQL window':>11} {'whole pool + Python':>20}")
        for size, (new_ms, old_ms, pool_size) in draws.items():
            print(f"{size:>7} {new_ms:>11.2f} {old_ms:>20.2f}   (the old way reads all {pool_size} questions)")
        db.session.remove()


if __name__ == "__main__":
    main()
