"""The embedded PostgreSQL server: one per instance folder, shared, owned, restartable.

Needs no fixture: each test starts its own server in a temporary folder and stops it.
"""
import atexit
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import psutil
import pytest
from sqlalchemy import create_engine, text

from quiz.db import embedded_postgres

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def instance(tmp_path):
    path = str(tmp_path / "instance")
    yield path
    embedded_postgres.stop(path)


def _postmaster_pid(instance: str) -> int | None:
    proc = embedded_postgres._postmaster(embedded_postgres._data_dir(instance))
    return proc.pid if proc else None


def _wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _scalar(url: str, sql: str):
    """Run `sql` (statements separated by ;) and return the last one's first value, if any."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in sql.split(";"):
                result = conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def _python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, **kwargs)


def test_url_is_known_before_the_server_starts(instance):
    url = embedded_postgres.database_url(instance)
    assert url.startswith("postgresql+psycopg://postgres@/quiz?host=")
    assert embedded_postgres.instance_for_url(url) == os.path.realpath(instance)
    assert embedded_postgres.instance_for_url("postgresql+psycopg://u:p@db.example.org/quiz") is None
    assert _postmaster_pid(instance) is None
    assert not os.path.exists(embedded_postgres._data_dir(instance))


def test_two_processes_share_one_server_and_the_starter_stops_it(instance):
    url = embedded_postgres.ensure_running(instance)
    pid = _postmaster_pid(instance)
    _scalar(url, "CREATE TABLE shared (n int); INSERT INTO shared VALUES (42)")
    data = embedded_postgres._data_dir(instance)
    assert oct(data.stat().st_mode & 0o777) == "0o700"

    child = _python(f"""
        from sqlalchemy import create_engine, text
        from quiz.db import embedded_postgres
        url = embedded_postgres.ensure_running({instance!r})
        with create_engine(url).connect() as conn:
            print(conn.execute(text("SELECT n FROM shared")).scalar(), url == {url!r})
    """)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and out.split() == ["42", "True"]
    assert _postmaster_pid(instance) == pid  # the child joined, and left it running at its exit

    embedded_postgres.stop(instance)
    assert _postmaster_pid(instance) is None
    assert not os.path.exists(os.path.join(embedded_postgres.socket_dir(instance), ".s.PGSQL.5432"))


def test_a_forked_child_does_not_stop_its_parents_server(instance):
    embedded_postgres.ensure_running(instance)
    pid = os.fork()
    if pid == 0:  # the child runs the inherited exit hooks, as a gunicorn worker does
        try:
            atexit._run_exitfuncs()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert _postmaster_pid(instance) is not None


def test_after_sigkill_of_the_owner_and_of_the_postmaster_it_comes_back(instance):
    owner = _python(f"""
        import time
        from quiz.db import embedded_postgres
        url = embedded_postgres.ensure_running({instance!r})
        print(url, flush=True)
        time.sleep(60)
    """)
    try:
        url = owner.stdout.readline().strip()
        _scalar(url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.communicate(timeout=10)
    first = _postmaster_pid(instance)
    assert first is not None  # an orphan: its owner died without stopping it

    assert embedded_postgres.ensure_running(instance) == url  # adopted by this process
    assert _postmaster_pid(instance) == first

    os.kill(first, signal.SIGKILL)  # postmaster.pid stays behind
    _wait_until(lambda: not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE)
    assert embedded_postgres.ensure_running(instance) == url
    second = _postmaster_pid(instance)
    assert second not in (None, first)
    assert _scalar(url, "SELECT n FROM kept") == 7


def test_a_long_instance_path_puts_the_socket_in_a_short_folder(tmp_path):
    instance = str(tmp_path / ("x" * 90) / "instance")
    sock = embedded_postgres.socket_dir(instance)
    assert len(sock) < 60 and not sock.startswith(str(tmp_path))
    try:
        url = embedded_postgres.ensure_running(instance)
        assert _scalar(url, "SELECT current_setting('unix_socket_directories')") == sock
        assert oct(os.stat(sock).st_mode & 0o777) == "0o700"
    finally:
        embedded_postgres.stop(instance)


def test_engines_start_it_lazily_on_their_first_connection(instance):
    url = embedded_postgres.database_url(instance)
    engine = create_engine(url)
    embedded_postgres.install_lazy_start(engine, instance)
    assert _postmaster_pid(instance) is None  # installing starts nothing
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar() == "quiz"
    engine.dispose()

    # init_app: any engine on the embedded URL (the direct pool is made from main.url) starts it.
    embedded_postgres.stop(instance)
    embedded_postgres.init_app(SimpleNamespace(config={"EMBEDDED_POSTGRES": True, "SQLALCHEMY_DATABASE_URI": url}))
    direct = create_engine(engine.url)
    with direct.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    direct.dispose()

    embedded_postgres.stop(instance)
    assert embedded_postgres.ensure_for_url(url) is True
    assert _postmaster_pid(instance) is not None
    assert embedded_postgres.ensure_for_url("postgresql+psycopg://u:p@db.example.org/quiz") is False
