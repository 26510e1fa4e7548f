"""Load benchmark: wrk (outside the app process) against gunicorn on loopback.

    .venv/bin/python bench/load.py                       # the configuration in gunicorn.conf.py
    .venv/bin/python bench/load.py --rate-limits --duration 5   # the morning peak's figures (docs/benchmarks.md)
    .venv/bin/python bench/load.py --sweep sync:3:1,gthread:2:8,gthread:3:4
    DATABASE_URL=postgresql://... REDIS_URL=redis://... .venv/bin/python bench/load.py
    QUIZ_APP_ROOT=/tmp/quiz-before .venv/bin/python bench/load.py   # another tree of the app (e.g. git archive HEAD)

Resets the database named by DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/quiz_load,
created if missing) and FLUSHDB on REDIS_URL's db (default redis://127.0.0.1:6379/7): never point
it at real data. Imports the sample bank and a bench variant of the sample contest, creates
citizens, tokens and active attempts directly in SQL, starts gunicorn, then runs wrk once per
endpoint and prints req/s, p50, p99, errors, the ratio to the same run's /healthz and the
ratio to a plain five-line Flask app's /healthz (bench/plain_flask.py) served first by the
same gunicorn settings: the framework's ceiling.

The morning peak's endpoints: `code` (ask for a registration code; the codes go to a real
local HTTP gateway, SMS_PROVIDER=webhook), `register` (by code, no password), `login`
(token by a login code), `login_pw` (token by password: one scrypt hash each), `start` (a
fresh citizen's first timed attempt, drawn from a 10,000-question bank, --bank-size, with
the sample contest's paper rules) and `resume` (a start while the attempt is active).
Codes are inserted with the stored hash of a known code, as phone_codes.issue stores them.
`--mixed-logins N` runs saves again while N password logins a second arrive.
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
import timeit
import urllib.request
from datetime import timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("QUIZ_APP_ROOT") or BENCH.parent).resolve()  # the app tree measured
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
BIN = Path(sys.executable).parent

from big_bank import big_bank, empty_services  # noqa: E402

TARGETS = {"save": 0.4, "submit": 0.25, "top100": 0.5, "start": 0.25, "login": 0.3}  # minimum ratio to /healthz req/s
PLAIN_TARGETS = {"healthz": 0.7}  # minimum ratio to the plain Flask app's /healthz
PEAK = ("code", "register", "login", "start", "resume", "login_pw")  # login_pw last: its hashes outlast its run
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
  if mode == "save" or mode == "submit" or mode == "lines" then
    local line_no = 0
    for line in io.lines(os.getenv("BENCH_DATA")) do
      if line_no % n == tid then
        local fields = {}
        for f in line:gmatch("[^\t]+") do table.insert(fields, f) end
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
  if mode == "lines" then  -- METHOD, path, token ("-": none), body
    local h = {["Content-Type"] = "application/json"}
    if row[3] ~= "-" then h["Authorization"] = "Bearer " .. row[3] end
    return wrk.format(row[1], row[2], h, row[4])
  end
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
            self.env.update({"RATELIMIT_ENABLED": "1", **{name: "1000000 per minute" for name in (
                "ANSWER_SAVE_LIMIT", "ATTEMPT_START_LIMIT", "REGISTER_LIMIT", "LOGIN_ADDRESS_LIMIT",
                "LOGIN_ADDRESS_FAILURE_LIMIT", "LOGIN_FAILURE_LIMIT", "LOGIN_SUCCESS_LIMIT")}})
        # Codes go to a real HTTP gateway on loopback (SmsGateway), as to a city's.
        self.env.update({"PHONE_VERIFICATION": "1", "SMS_PROVIDER": "webhook", "SMS_WEBHOOK_SECRET": "bench",
                         "SMS_WEBHOOK_URL": f"http://127.0.0.1:{args.port + 1}/sms"})
        self.app = None
        self.serial = 0
        self.pids: dict[int, int] = {}  # port -> gunicorn master
        self.server_pids: dict[str, int] = {}

    # ---- the database and the contest --------------------------------------------------

    def reset(self) -> None:
        from quiz.config import normalise_database_url

        empty_services(normalise_database_url(self.database_url), self.redis_url)
        contest_file = self.workdir / "bench.contest.yaml"
        contest_file.write_bytes(contest_variant())
        bank_file = self.workdir / "cz-science-2021.yaml"  # the sample bank's questions, repeated
        bank_file.write_bytes(big_bank(self.args.bank_size, "cz-science-2021"))
        for command in (["db", "upgrade"], ["bank", "import", str(bank_file)],
                        ["contest", "import", str(contest_file), "--shift-to-now"]):
            subprocess.run([str(BIN / "flask"), "--app", "wsgi", *command], cwd=ROOT, env=self.env, check=True,
                           capture_output=True)

    def _app(self):
        if self.app is None:
            from quiz import create_app
            from quiz.config import Config

            os.environ.update({k: v for k, v in self.env.items() if k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                                                         "RATELIMIT_ENABLED", "PHONE_VERIFICATION")})
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

    def peak(self, count: int, resume: list[tuple]) -> dict[str, list[str]]:
        """Request lines (METHOD, path, token, body; tab-separated) for the peak's endpoints:
        `count` each of fresh phones asking for a code, phones registering with a code, citizens
        logging in by code, fresh citizens (with tokens, no attempt) starting; a few hundred
        citizens with passwords; `resume`: (token, attempt, items) of citizens with an active attempt."""
        from sqlalchemy import insert

        from quiz import phone_codes
        from quiz.accounts import hash_password, token_digest
        from quiz.clock import utcnow
        from quiz.extensions import db
        from quiz.models import ApiToken, PhoneCode, User

        districts = ["liyang", "jintan", "wujin", "xinbei", "tianning", "zhonglou", "jingkai"]
        code = "246810"

        def phones(n):
            out = []
            for _ in range(n):
                self.serial += 1
                out.append(f"137{self.serial:08d}")
            return out

        def body(value: dict) -> str:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

        with self._app().app_context():
            now = utcnow()
            password = hash_password("password123")
            lines: dict[str, list[str]] = {}
            lines["code"] = [f"POST\t/api/v1/auth/code\t-\t{body({'phone': p, 'purpose': 'register'})}" for p in phones(count)]
            registering = phones(count)
            lines["register"] = ["POST\t/api/v1/auth/register\t-\t" + body(
                {"phone": p, "name": f"新市民{p[-5:]}", "district": districts[i % 7], "code": code})
                for i, p in enumerate(registering)]
            logging_in = phones(count)
            by_password = phones(400)
            starting = phones(count)
            users = [{"phone": p, "name": f"压测{p[-5:]}", "district": districts[i % 7], "role": "citizen",
                      "password_hash": password if p in by_password else None, "session_version": 1, "created_at": now}
                     for i, p in enumerate(logging_in + by_password + starting)]
            ids = dict(zip([u["phone"] for u in users], db.session.scalars(
                insert(User).returning(User.id, sort_by_parameter_order=True), users).all(), strict=True))
            tokens = {p: secrets.token_urlsafe(32) for p in starting}
            db.session.execute(insert(ApiToken), [
                {"user_id": ids[p], "token_hash": token_digest(t), "expires_at": now + timedelta(days=1), "created_at": now}
                for p, t in tokens.items()])
            db.session.execute(insert(PhoneCode), [  # as phone_codes.issue stores a code (its keyed hash)
                {"phone": p, "purpose": purpose, "code_hash": phone_codes._digest(p, purpose, code),
                 "created_at": now - timedelta(minutes=2), "expires_at": now + timedelta(hours=2), "wrong_tries": 0}
                for purpose, group in (("register", registering), ("login", logging_in)) for p in group])
            db.session.commit()
            db.session.remove()
        lines["login"] = [f"POST\t/api/v1/auth/token\t-\t{body({'phone': p, 'code': code})}" for p in logging_in]
        lines["login_pw"] = [f"POST\t/api/v1/auth/token\t-\t{body({'phone': p, 'password': 'password123'})}"
                             for p in by_password]
        lines["start"] = [f"POST\t/api/v1/attempts\t{t}\t{{}}" for t in tokens.values()]
        lines["resume"] = [f"POST\t/api/v1/attempts\t{token}\t{{}}" for token, _, _ in resume]
        return lines

    def count_attempts(self) -> int:
        from sqlalchemy import func, select

        from quiz.extensions import db
        from quiz.models import Attempt

        with self._app().app_context():
            n = db.session.scalar(select(func.count()).select_from(Attempt))
            db.session.remove()
            return n

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

    def start_gunicorn(self, worker_class: str, workers: int, threads: int, app: str = "wsgi:app",
                       port: int | None = None) -> subprocess.Popen:
        """gunicorn with the tree's gunicorn.conf.py serving `app` (the plain Flask app: the
        same settings, with bench/ on the path)."""
        port = port or self.args.port
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        if not self.args.configured:  # a sweep overrides gunicorn.conf.py through its variables
            env.update({"GUNICORN_WORKER_CLASS": worker_class, "GUNICORN_WORKERS": str(workers),
                        "GUNICORN_THREADS": str(threads)})
        path = [] if app == "wsgi:app" else ["--pythonpath", str(BENCH)]
        process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", *path, app],
                                   cwd=ROOT, env=env, stdout=open(self.workdir / "gunicorn.log", "ab"),
                                   stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        time.sleep(1.0)  # let every worker finish booting
                        self.pids[port] = process.pid
                        return process
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not start; see {self.workdir / 'gunicorn.log'}")

    def cpu_by_program(self, port: int) -> dict[str, float]:
        """CPU seconds used so far by this bench's gunicorn (master and workers), and by the
        PostgreSQL and Redis servers of DATABASE_URL and REDIS_URL (their server processes
        only: other engineers' embedded servers and test apps on the machine are left out)."""
        import psutil

        totals = {"app": 0.0, "postgres": 0.0, "redis": 0.0}
        for key, pid in (("app", self.pids.get(port)), ("postgres", self.server_pids.get("postgres")),
                         ("redis", self.server_pids.get("redis"))):
            if pid is None:
                continue
            try:
                root = psutil.Process(pid)
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        times = proc.cpu_times()
                        totals[key] += times.user + times.system
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return totals

    def find_servers(self) -> None:
        """The postmaster's and the Redis server's process ids (asked of the servers themselves)."""
        import redis
        from sqlalchemy import create_engine, text

        from quiz.config import normalise_database_url

        self.server_pids = {}
        engine = create_engine(normalise_database_url(self.database_url))
        with engine.connect() as conn:
            data_dir = conn.scalar(text("SHOW data_directory"))
        engine.dispose()
        try:
            self.server_pids["postgres"] = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
        except OSError:  # not readable here: the figures leave PostgreSQL out
            log(f"note: cannot read {data_dir}/postmaster.pid; PostgreSQL CPU not measured")
        with redis.Redis.from_url(self.redis_url) as client:
            self.server_pids["redis"] = int(client.info("server")["process_id"])

    def wrk(self, mode: str, path: str = "", data: list[str] | None = None, port: int | None = None) -> dict:
        script = self.workdir / "bench.lua"
        script.write_text(WRK_LUA)
        env = {**os.environ, "BENCH_MODE": mode, "BENCH_PATH": path, "BENCH_THREADS": str(self.args.threads)}
        if data is not None:
            data_file = self.workdir / f"{mode}.txt"
            data_file.write_text("\n".join(data) + "\n")
            env["BENCH_DATA"] = str(data_file)
        before = self.cpu_by_program(port or self.args.port)
        done = subprocess.run([self.wrk_bin, "-t", str(self.args.threads), "-c", str(self.args.connections),
                               "-d", f"{self.args.duration}s", "--timeout", "5s", "-s", str(script),
                               f"http://127.0.0.1:{port or self.args.port}"], env=env, capture_output=True, text=True, check=True)
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH "))
        raw = json.loads(line[len("BENCH "):])
        after = self.cpu_by_program(port or self.args.port)
        errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
        cpu_ms = {k: 1000 * (after[k] - before[k]) / max(1, raw["requests"]) for k in after}
        return {"rps": raw["requests"] / (raw["duration_us"] / 1e6), "p50": raw["p50_us"] / 1000,
                "p99": raw["p99_us"] / 1000, "errors": errors, "requests": raw["requests"], "raw": raw,
                "cpu_ms": cpu_ms}

    def run_config(self, worker_class: str, workers: int, threads: int) -> dict:
        label = "gunicorn.conf.py" if self.args.configured else f"{worker_class} workers={workers} threads={threads}"
        wanted = self.args.endpoints.split(",")
        log(f"== {label}: preparing attempts")
        saving = self.attempts(self.args.save_citizens)
        submitting = self.attempts(self.args.submits)
        save_lines = [f"{token}\t{attempt}\t{qid}\t{'true' if qtype == 'judge' else 'A'}"
                      for token, attempt, items in saving for qid, qtype in items]
        random.Random(1).shuffle(save_lines)
        submit_lines = [f"{token}\t{attempt}" for token, attempt, _ in submitting]
        peak = self.peak(self.args.peak_citizens, saving) if any(name in wanted for name in PEAK) else {}
        self.settle()
        results = {}
        gateway = SmsGateway(self.args.port + 1)
        plain = self.start_gunicorn(worker_class, workers, threads, app="plain_flask:app", port=self.args.port + 2)
        process = self.start_gunicorn(worker_class, workers, threads)
        self.find_servers()
        try:
            # The ceiling and the app's /healthz in turns, twice (the machine's other load
            # shifts from run to run); each is the mean of its two runs. The plain app idles after.
            runs = [self.wrk("get", "/healthz", port=self.args.port + 2 if n % 2 == 0 else None) for n in range(4)]
            self.plain, results["healthz"] = mean_run(runs[0::2]), mean_run(runs[1::2])
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
            for name in PEAK:
                if name in wanted:
                    before = self.count_attempts()
                    results[name] = self.wrk("lines", data=peak[name])
                    results[name]["fresh"] = (self.count_attempts() - before if name == "start" else None)
                    results[name]["once"] = len(peak[name])  # a code, a phone, a fresh citizen serves once
            if "code" in wanted and "register" in wanted:
                code, register = results["code"], results["register"]
                results["signup"] = {"rps": 1 / (1 / code["rps"] + 1 / register["rps"]), "p50": code["p50"] + register["p50"],
                                     "p99": code["p99"] + register["p99"], "errors": code["errors"] + register["errors"],
                                     "requests": min(code["requests"], register["requests"]),
                                     "cpu_ms": {k: code["cpu_ms"][k] + register["cpu_ms"][k] for k in code["cpu_ms"]}}
            if self.args.mixed_logins and "save" in wanted:
                results["save+logins"] = self.mixed(save_lines, peak.get("login_pw") or [], self.args.mixed_logins)
        finally:
            for server in (process, plain):
                server.send_signal(signal.SIGTERM)
                server.wait(30)
            gateway.stop()
        results["gateway"] = gateway.count
        self.report(label, results)
        return results

    def mixed(self, save_lines: list[str], login_lines: list[str], per_second: int) -> dict:
        """Saves by wrk while `per_second` logins by password arrive (open loop: one request
        each 1/per_second s whatever the answers, from a thread pool of this process)."""
        import concurrent.futures
        import threading

        outcomes: list[int] = []
        stop = threading.Event()

        def login(line: str) -> None:
            _, path, _, body = line.split("\t")
            request = urllib.request.Request(f"http://127.0.0.1:{self.args.port}{path}", data=body.encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    outcomes.append(response.status)
            except urllib.error.HTTPError as exc:
                outcomes.append(exc.code)
            except OSError:
                outcomes.append(0)

        def arrivals() -> None:
            with concurrent.futures.ThreadPoolExecutor(max_workers=per_second * 4) as pool:
                due, n = time.monotonic(), 0
                while not stop.is_set():
                    pool.submit(login, login_lines[n % len(login_lines)])
                    n += 1
                    due += 1 / per_second
                    time.sleep(max(0.0, due - time.monotonic()))

        driver = threading.Thread(target=arrivals, daemon=True)
        driver.start()
        try:
            result = self.wrk("save", data=save_lines)
        finally:
            stop.set()
            driver.join(30)
        counts: dict[int, int] = {}
        for status in outcomes:
            counts[status] = counts.get(status, 0) + 1
        result["logins"] = counts
        return result

    def report(self, label: str, results: dict) -> None:
        gateway = results.pop("gateway", None)
        base, plain = results["healthz"]["rps"], self.plain["rps"]
        log(f"\n{label}  ({self.args.connections} connections, {self.args.duration} s each, wrk -t{self.args.threads},"
            f" {self.args.bank_size}-question bank, rate limits {'on' if self.args.rate_limits else 'off'})")
        log(f"machine: sum(range(10000)) in {machine_speed_us():.0f} µs, best of 5 (req/s and CPU ms compare only between"
            f" runs of a like figure; the ratios across them)")
        log(f"plain Flask /healthz: {plain:.0f} req/s, p50 {self.plain['p50']:.1f} ms, p99 {self.plain['p99']:.1f} ms,"
            f" {self.plain['errors']} errors, {self.plain['cpu_ms']['app']:.2f} ms app CPU a request")
        log(f"{'endpoint':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'x healthz':>10} {'x plain':>8}"
            f" {'app':>6} {'pg':>6} {'redis':>6}  target")
        for name, r in results.items():
            ratio, to_plain = r["rps"] / base, r["rps"] / plain
            verdicts = []
            if name in TARGETS:
                verdicts.append(f">= {TARGETS[name]}x healthz")
            if name in PLAIN_TARGETS:
                verdicts.append(f">= {PLAIN_TARGETS[name]}x plain")
            if name == "signup":
                verdicts.append(">= 0.15x healthz")
            verdict = ""
            if verdicts:
                ok = (ratio >= TARGETS.get(name, 0.15 if name == "signup" else 0) and to_plain >= PLAIN_TARGETS.get(name, 0)
                      and r["p99"] <= P99_TARGET_MS and r["errors"] == 0)
                verdict = f"{', '.join(verdicts)}, p99 <= {P99_TARGET_MS} ms: {'met' if ok else 'MISSED'}"
            c = r["cpu_ms"]
            log(f"{name:<12} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['errors']:>7} {ratio:>10.2f} {to_plain:>8.2f}"
                f" {c['app']:>6.2f} {c['postgres']:>6.2f} {c['redis']:>6.2f}  {verdict}")
        log("(app, pg, redis: CPU ms per request of the gunicorn workers, PostgreSQL and Redis; signup = code + register)")
        sub = results.get("submit")
        if sub and sub["fresh"] < sub["requests"]:
            log(f"note: only {sub['fresh']} of {sub['requests']} submits found a fresh attempt; raise --submits")
        for name in PEAK:
            r = results.get(name)
            if r and r["requests"] > r["once"] and name != "resume" and name != "login_pw":
                log(f"note: {name} sent {r['requests']} requests for {r['once']} prepared; raise --peak-citizens")
        if results.get("start") and results["start"]["fresh"] is not None:
            log(f"start: {results['start']['fresh']} attempts created")
        if "save+logins" in results:
            log(f"logins by password during save+logins ({self.args.mixed_logins}/s), by status: {results['save+logins']['logins']}")
        if gateway is not None:
            log(f"SMS gateway: {gateway} codes delivered")
        log("")


def mean_run(runs: list[dict]) -> dict:
    """One run's figures from several of the same endpoint: mean req/s, latencies and CPU; errors summed."""
    n = len(runs)
    return {"rps": sum(r["rps"] for r in runs) / n, "p50": sum(r["p50"] for r in runs) / n,
            "p99": sum(r["p99"] for r in runs) / n, "errors": sum(r["errors"] for r in runs),
            "requests": sum(r["requests"] for r in runs),
            "cpu_ms": {k: sum(r["cpu_ms"][k] for r in runs) / n for k in runs[0]["cpu_ms"]}}


def machine_speed_us() -> float:
    """This process's time for a fixed loop, after the runs: how fast the machine was that
    day (one VM here took 129 µs one day and 317 µs another: bench/README.md)."""
    return min(timeit.repeat("sum(range(10000))", number=200, repeat=5)) / 200 * 1e6


class SmsGateway:
    """A city's SMS gateway on loopback: answers every code delivery (an HTTP POST) 200, keeps
    the connection open for the next one, and counts them. An asyncio server in a thread of its own: the ThreadingHTTPServer it replaced
    (a thread and BaseHTTPRequestHandler's parsing a message) took ~0.3 of the two cores at
    the peak's rate, CPU the app then lacked."""

    def __init__(self, port: int):
        import asyncio
        import threading

        self.count = 0
        self.open: set = set()  # the app's kept connections
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def deliver(reader, writer):
            self.open.add(writer)
            try:
                while True:  # HTTP/1.1 keep-alive, as a city's gateway: the app sends many codes on one connection
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    await reader.readexactly(length)
                    self.count += 1
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass  # the app closed the connection
            finally:
                self.open.discard(writer)
                writer.close()

        async def serve():
            self.server = await asyncio.start_server(deliver, "127.0.0.1", port, backlog=1024)
            ready.set()

        def run():
            self.loop.run_until_complete(serve())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    def stop(self) -> None:
        import asyncio

        async def close():
            self.server.close()
            for writer in list(self.open):
                writer.close()
            await asyncio.sleep(0.05)  # each deliver() sees its connection end
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


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
    parser.add_argument("--endpoints", default="save,submit,top100,display," + ",".join(PEAK),
                        help="which runs besides /healthz (comma-separated)")
    parser.add_argument("--bank-size", type=int, default=10000, help="questions in the bench bank")
    parser.add_argument("--peak-citizens", type=int, default=3000,
                        help="fresh phones, codes and citizens prepared for each peak endpoint")
    parser.add_argument("--mixed-logins", type=int, default=0,
                        help="logins by password a second during a second save run (0: no such run)")
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
