"""Password hashing: scrypt at OWASP's minimum cost, through a bounded pool per worker.

OWASP's Password Storage Cheat Sheet lists as equivalent minimums N=2^17 r=8 p=1,
N=2^16 r=8 p=2, N=2^15 r=8 p=3, N=2^14 r=8 p=5 and N=2^13 r=8 p=10. PASSWORD_HASH
is N=2^14 r=8 p=5: 16 MiB per hash instead of 128 MiB, for less CPU than N=2^17 p=1.
Hashes stored with another cost (werkzeug's older N=2^15 p=1) still verify: the method
is read from the hash itself.

One hash is ~0.4 s of a core: a burst of password logins would take every core a worker
has, and every connection it holds (gunicorn's worker_connections) while they wait.
HASHING lets at most `size` hashes run at once in a worker, each in a native thread at a
lower CPU priority (the GIL is released inside scrypt, so the worker's other requests go
on meanwhile), and at most `queue` more wait for a slot, each at most `wait_s`; a hash
beyond those raises HashingBusy at once, which the pages and the API answer with a 503 and
Retry-After. A worker's password checks so hold at most size + queue of its connections.
"""
import os
import threading

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

PASSWORD_HASH = "scrypt:16384:8:5"
HASHING_NICENESS = 10  # hashing threads yield the cores to requests (os.nice, per thread on Linux)


class HashingBusy(Exception):
    """Every hashing slot of this worker stayed taken for the whole wait."""

    retry_after_s = 5


def _on_a_native_thread(fn, *args):
    """fn(*args) on a native thread under gevent (the hub keeps serving other greenlets while
    scrypt holds the thread), else in the calling thread."""
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return fn(*args)
    if not monkey.is_module_patched("threading"):
        return fn(*args)
    return get_hub().threadpool.apply(_niced, (fn, *args))


_niced_threads: set = set()


def _niced(fn, *args):
    ident = threading.get_native_id()
    if ident not in _niced_threads:
        try:
            os.setpriority(os.PRIO_PROCESS, ident, HASHING_NICENESS)
        except (AttributeError, OSError):  # not Linux, or not allowed: only the priority is lost
            pass
        _niced_threads.add(ident)
    return fn(*args)


class HashingPool:
    """At most `size` hashes at once and `queue` callers waiting, each at most `wait_s` s."""

    def __init__(self, size: int = 1, queue: int = 2, wait_s: float = 2.0):
        self.size, self.queue, self.wait_s = size, queue, wait_s
        self._slots = threading.BoundedSemaphore(size)  # gevent's under gunicorn (patched before import)
        self._lock = threading.Lock()
        self._waiting = 0

    def run(self, fn, *args):
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self.queue:
                    raise HashingBusy(BUSY)
                self._waiting += 1
            try:
                got = self._slots.acquire(timeout=self.wait_s)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not got:
                raise HashingBusy(BUSY)
        try:
            return _on_a_native_thread(fn, *args)
        finally:
            self._slots.release()


BUSY = "登录的人太多，请稍后再试。"
HASHING = HashingPool(size=int(os.environ.get("PASSWORD_HASHING_SLOTS", 1)),
                      queue=int(os.environ.get("PASSWORD_HASHING_QUEUE", 2)),
                      wait_s=float(os.environ.get("PASSWORD_HASHING_WAIT_S", 2)))


def _method() -> str:
    # The test settings lower the cost to keep the suite fast (config.TestConfig).
    return current_app.config.get("PASSWORD_HASH_METHOD", PASSWORD_HASH) if has_app_context() else PASSWORD_HASH


def hash_password(password: str) -> str:
    """A salted scrypt hash at the configured cost, through HASHING."""
    return HASHING.run(generate_password_hash, password, _method())


_dummies: dict[str, str] = {}


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (unknown phone, code-only account) a hash
    of the same cost is checked anyway, so timing does not reveal registration."""
    if not password_hash:
        method = _method()
        if method not in _dummies:
            _dummies[method] = generate_password_hash("not-a-real-password", method=method)
        HASHING.run(check_password_hash, _dummies[method], password or "x")
        return False
    return HASHING.run(check_password_hash, password_hash, password)
