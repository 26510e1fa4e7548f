"""Load benchmark: wrk (outside the app process) against gunicorn on loopback.

    .venv/bin/python bench/load.py                       # the configuration in gunicorn.conf.py
    .venv/bin/python bench/load.py --sweep sync:3:1,gthread:2:8,gthread:3:4
    DATABASE_URL=postgresql://... REDIS_URL=redis://... .venv/bin/python bench/load.py

Resets the database named by DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/quiz_load,
created if missing) and FLUSHDB on REDIS_URL's db (default redis://127.0.0.1:6379/7): never point
it at real data. Imports the sample bank and a bench variant of the sample contest, creates
citizens, tokens and active attempts directly in SQL, starts gunicorn, then runs wrk once per
endpoint and prints req/s, p50, p99, errors and the ratio to the same run's /healthz.
Figures and method: docs/benchmarks.md.
"""
import argparse
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

TARGETS = {"save": 0.4, "submit": 0.25, "top100": 0.5}  # minimum ratio to /healthz req/s
P99_TARGET_MS = 250

# One Lua script for every endpoint: BENCH_MODE picks the request, BENCH_DATA the lines
# ("token attempt qid choice" for saves, "token attempt" for submits); each wrk thread
# takes every n-th line, so no two threads submit the same attempt.
WRK_LUA = r"""
local mode = os.getenv("BENCH_MODE")
local path = os.getenv("BENCH_PATH")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local rows = {}
local i = 0

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS"))
  if mode == "save" or mode == "submit" then
    local line_no = 0
    for line in io.lines(os.getenv("BENCH_DATA")) do
      if line_no % n == tid then
        local fields = {}
        for f in line:gmatch("%S+") do table.insert(fields, f) end
        table.insert(rows, fields)
      end
      line_no = line_no + 1
    end
  end
end

function request()
  if mode == "get" then
    return wrk.format("GET", path)
  end
  i = i + 1
  local row = rows[((i - 1) % #rows) + 1]
  local headers = {["Authorization"] = "Bearer " .. row[1], ["Content-Type"] = "application/json"}
  if mode == "save" then
    local body = '{"choices":["' .. row[4] .. '"]}'
    return wrk.format("PUT", "/api/v1/attempts/" .. row[2] .. "/answers/" .. row[3], headers, body)
  end
  return wrk.format("POST", "/api/v1/attempts/" .. row[2] .. "/submit", headers, "{}")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def log(message: str) -> None:
    print(message, flush=True)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("== installing wrk (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk")


def contest_variant() -> bytes:
    """The sample contest with limits a benchmark can use up, and the longest allowed time limit."""
    raw = (ROOT / "question_bank" / "cz-2021-3rd.contest.yaml").read_text()
    for old, new in (("contest: cz-2021-3rd\n", "contest: cz-2021-bench\n"),
                     ("attempts_per_day: 1\n", "attempts_per_day: 1000\n"),
                     ("max_attempts: 7\n", "max_attempts: 10000\n"),
                     ("time_limit_s: 600\n", "time_limit_s: 1000\n")):
        assert old in raw, old
        raw = raw.replace(old, new)
    return raw.encode()


class Bench:
    def __init__(self, args):
        self.args = args
        self.database_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/quiz_load")
        self.redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7")
        self.workdir = Path(tempfile.mkdtemp(prefix="quiz-bench-"))
        self.env = {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
                    "QUIZ_INSTANCE_PATH": str(self.workdir / "instance"), "SECRET_KEY": "bench-secret",
                    "RATELIMIT_ENABLED": "0", "GUNICORN_BIND": f"127.0.0.1:{args.port}"}
        if args.rate_limits:  # the limiter runs (Redis-backed) but never refuses the bench's citizens
            self.env.update({"RATELIMIT_ENABLED": "1", "ANSWER_SAVE_LIMIT": "1000000 per minute",
                             "ATTEMPT_START_LIMIT": "1000000 per minute"})
        self.app = None
        self.serial = 0

    # ---- the database and the contest --------------------------------------------------

    def reset(self) -> None:
        from sqlalchemy import create_engine, text

        from quiz.config import normalise_database_url

        url = normalise_database_url(self.database_url)
        if url.startswith("postgresql"):
            name = url.rsplit("/", 1)[1]
            admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        import redis

        with redis.Redis.from_url(self.redis_url) as client:
            client.flushdb()
        contest_file = self.workdir / "bench.contest.yaml"
        contest_file.write_bytes(contest_variant())
        for command in (["db", "upgrade"], ["bank", "import", "question_bank/cz-science-2021.yaml"],
                        ["contest", "import", str(contest_file), "--shift-to-now"]):
            subprocess.run([str(BIN / "flask"), "--app", "wsgi", *command], cwd=ROOT, env=self.env, check=True,
                           capture_output=True)

    def _app(self):
        if self.app is None:
            from quiz import create_app
            from quiz.config import Config

            os.environ.update({k: v for k, v in self.env.items() if k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "RATELIMIT_ENABLED")})
            self.app = create_app(Config(str(self.workdir / "instance")))
        return self.app

    def attempts(self, count: int) -> list[tuple]:
        """`count` new citizens, each with a token and an active attempt; drawn with the real
        paper rules from a few template papers, inserted in bulk. Returns (token, attempt id, items)."""
        from sqlalchemy import insert, select

        from quiz.accounts import hash_password, token_digest
        from quiz.bank.importer import latest_bank
        from quiz.clock import local_day, utcnow
        from quiz.contest.attempts import draw_paper
        from quiz.contest.definition import question_points
        from quiz.contest.rules import current_contest
        from quiz.extensions import db
        from quiz.models import ApiToken, Attempt, AttemptQuestion, Question, User

        rng = random.Random(self.serial)
        districts = ["liyang", "jintan", "wujin", "xinbei", "tianning", "zhonglou", "jingkai"]
        with self._app().app_context():
            now = utcnow()
            contest = current_contest(db.session, now)
            pool = db.session.scalars(select(Question).where(
                Question.bank_id == latest_bank(db.session, contest.bank_slug).id, Question.retired.is_(False))).all()
            papers = [draw_paper(pool, contest.paper, contest.questions_per_attempt, set(), rng) for _ in range(50)]
            password = hash_password("password123")
            out = []
            for start in range(0, count, 2000):
                batch = range(start, min(count, start + 2000))
                users = []
                for _ in batch:
                    self.serial += 1
                    users.append({"phone": f"137{self.serial:08d}", "name": f"压测{self.serial}",
                                  "district": districts[self.serial % 7], "password_hash": password,
                                  "role": "citizen", "session_version": 1, "created_at": now})
                user_ids = db.session.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), users).all()
                tokens = [secrets.token_urlsafe(32) for _ in user_ids]
                db.session.execute(insert(ApiToken), [
                    {"user_id": uid, "token_hash": token_digest(t), "expires_at": now + timedelta(days=1), "created_at": now}
                    for uid, t in zip(user_ids, tokens, strict=True)])
                chosen = [rng.choice(papers) for _ in user_ids]
                attempt_ids = db.session.scalars(insert(Attempt).returning(Attempt.id, sort_by_parameter_order=True), [
                    {"user_id": uid, "contest_id": contest.id, "practice": False, "status": "active",
                     "day": local_day(now), "started_at": now, "deadline": now + timedelta(seconds=contest.time_limit_s),
                     "question_count": len(paper), "auto_submitted": False, "board_pending": False}
                    for uid, paper in zip(user_ids, chosen, strict=True)]).all()
                items = []
                for attempt_id, paper in zip(attempt_ids, chosen, strict=True):
                    for position, question in enumerate(paper):
                        order = [key for key, _ in question.options]
                        rng.shuffle(order)
                        items.append({"attempt_id": attempt_id, "question_id": question.id, "position": position,
                                      "option_order": order, "points": question_points(question, contest.points)})
                db.session.execute(insert(AttemptQuestion), items)
                db.session.commit()
                for token, attempt_id, paper in zip(tokens, attempt_ids, chosen, strict=True):
                    out.append((token, attempt_id, [(q.qid, q.type) for q in paper]))
            db.session.remove()
        return out

    def settle(self) -> None:
        """The state of a contest under way: its board built (as the first display or
        result builds it; else the first submits of the run rebuild it, and the ones
        racing them are left for the catch-up), and VACUUM ANALYZE after the bulk inserts
        (else autovacuum does it during the first endpoint's run, and its CPU is counted
        as that endpoint's PostgreSQL time)."""
        from sqlalchemy import create_engine, text

        from quiz import leaderboard
        from quiz.clock import utcnow
        from quiz.config import normalise_database_url
        from quiz.contest.rules import current_contest
        from quiz.extensions import db

        with self._app().app_context():
            leaderboard.rebuild(db.session, current_contest(db.session, utcnow()))
            db.session.remove()

        url = normalise_database_url(self.database_url)
        if not url.startswith("postgresql"):
            return
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()

    def count_submitted(self) -> int:
        from sqlalchemy import func, select

        from quiz.extensions import db
        from quiz.models import Attempt

        with self._app().app_context():
            n = db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.status != "active"))
            db.session.remove()
            return n

    # ---- gunicorn and wrk ------------------------------------------------------------

    def start_gunicorn(self, worker_class: str, workers: int, threads: int) -> subprocess.Popen:
        env = dict(self.env)
        if not self.args.configured:  # a sweep overrides gunicorn.conf.py through its variables
            env.update({"GUNICORN_WORKER_CLASS": worker_class, "GUNICORN_WORKERS": str(workers),
                        "GUNICORN_THREADS": str(threads)})
        process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                                   stdout=open(self.workdir / "gunicorn.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.args.port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        time.sleep(1.0)  # let every worker finish booting
                        return process
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not start; see {self.workdir / 'gunicorn.log'}")

    @staticmethod
    def cpu_by_program() -> dict[str, float]:
        """CPU seconds used so far by the app (gunicorn), PostgreSQL and Redis processes."""
        import psutil

        totals = {"app": 0.0, "postgres": 0.0, "redis": 0.0}
        for proc in psutil.process_iter(["name", "cmdline"]):
            try:
                name = proc.info["name"] or ""
                line = " ".join(proc.info["cmdline"] or [])
                key = ("app" if "gunicorn" in line or name.startswith("quiz") else
                       "postgres" if name.startswith("postgres") else
                       "redis" if name.startswith("redis") else None)
                if key:
                    times = proc.cpu_times()
                    totals[key] += times.user + times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return totals

    def wrk(self, mode: str, path: str = "", data: list[str] | None = None) -> dict:
        script = self.workdir / "bench.lua"
        script.write_text(WRK_LUA)
        env = {**os.environ, "BENCH_MODE": mode, "BENCH_PATH": path, "BENCH_THREADS": str(self.args.threads)}
        if data is not None:
            data_file = self.workdir / f"{mode}.txt"
            data_file.write_text("\n".join(data) + "\n")
            env["BENCH_DATA"] = str(data_file)
        before = self.cpu_by_program()
        done = subprocess.run([self.wrk_bin, "-t", str(self.args.threads), "-c", str(self.args.connections),
                               "-d", f"{self.args.duration}s", "--timeout", "5s", "-s", str(script),
                               f"http://127.0.0.1:{self.args.port}"], env=env, capture_output=True, text=True, check=True)
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH "))
        raw = json.loads(line[len("BENCH "):])
        after = self.cpu_by_program()
        errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
        cpu_ms = {k: 1000 * (after[k] - before[k]) / max(1, raw["requests"]) for k in after}
        return {"rps": raw["requests"] / (raw["duration_us"] / 1e6), "p50": raw["p50_us"] / 1000,
                "p99": raw["p99_us"] / 1000, "errors": errors, "requests": raw["requests"], "raw": raw,
                "cpu_ms": cpu_ms}

    def run_config(self, worker_class: str, workers: int, threads: int) -> dict:
        label = "gunicorn.conf.py" if self.args.configured else f"{worker_class} workers={workers} threads={threads}"
        log(f"== {label}: preparing attempts")
        saving = self.attempts(self.args.save_citizens)
        submitting = self.attempts(self.args.submits)
        save_lines = [f"{token} {attempt} {qid} {'true' if qtype == 'judge' else 'A'}"
                      for token, attempt, items in saving for qid, qtype in items]
        random.Random(1).shuffle(save_lines)
        submit_lines = [f"{token} {attempt}" for token, attempt, _ in submitting]
        self.settle()
        process = self.start_gunicorn(worker_class, workers, threads)
        results = {}
        try:
            wanted = self.args.endpoints.split(",")
            results["healthz"] = self.wrk("get", "/healthz")
            if "save" in wanted:
                results["save"] = self.wrk("save", data=save_lines)
            if "submit" in wanted:
                before = self.count_submitted()
                results["submit"] = self.wrk("submit", data=submit_lines)
                results["submit"]["fresh"] = self.count_submitted() - before
            if "top100" in wanted:
                results["top100"] = self.wrk("get", "/api/v1/leaderboard?limit=100")
            if "display" in wanted:
                results["display"] = self.wrk("get", "/display/data")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        self.report(label, results)
        return results

    def report(self, label: str, results: dict) -> None:
        base = results["healthz"]["rps"]
        log(f"\n{label}  ({self.args.connections} connections, {self.args.duration} s each, wrk -t{self.args.threads})")
        log(f"{'endpoint':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'x healthz':>10}  target")
        for name, r in results.items():
            ratio = r["rps"] / base
            target = TARGETS.get(name)
            verdict = ""
            if target is not None:
                ok = ratio >= target and r["p99"] <= P99_TARGET_MS and r["errors"] == 0
                verdict = f">= {target}x, p99 <= {P99_TARGET_MS} ms: {'met' if ok else 'MISSED'}"
            log(f"{name:<10} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['errors']:>7} {ratio:>10.2f}  {verdict}")
        log(f"\nCPU ms per request   {'app':>6} {'postgres':>9} {'redis':>6}   (app = the gunicorn workers)")
        for name, r in results.items():
            c = r["cpu_ms"]
            log(f"{name:<20} {c['app']:>6.2f} {c['postgres']:>9.2f} {c['redis']:>6.2f}")
        sub = results.get("submit")
        if sub and sub["fresh"] < sub["requests"]:
            log(f"note: only {sub['fresh']} of {sub['requests']} submits found a fresh attempt; raise --submits")
        log("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--save-citizens", type=int, default=2000, help="active attempts whose answers are saved")
    parser.add_argument("--submits", type=int, default=12000, help="fresh attempts prepared for the submit run")
    parser.add_argument("--rate-limits", action="store_true",
                        help="keep Flask-Limiter on (with limits the bench cannot reach) to measure its cost")
    parser.add_argument("--endpoints", default="save,submit,top100,display",
                        help="which runs besides /healthz (comma-separated)")
    parser.add_argument("--sweep", default="", help="worker_class:workers:threads,... instead of gunicorn.conf.py")
    args = parser.parse_args()
    bench = Bench(args)
    bench.wrk_bin = ensure_wrk()
    log(f"== resetting {bench.database_url} and {bench.redis_url}")
    bench.reset()
    configs = [tuple(c.split(":")) for c in args.sweep.split(",") if c]
    args.configured = not configs
    for worker_class, workers, threads in configs or [("", "0", "0")]:
        bench.run_config(worker_class, int(workers), int(threads))
    shutil.rmtree(bench.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
