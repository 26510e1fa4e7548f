"""Abandoned attempts handed in without cron: a sweep inside every app process.

An attempt nobody submits (the phone went flat, the tab was closed) is handed in by
`sweep`, which every app process runs in a background thread every FINALIZE_EVERY_S
seconds (default 3; 0 turns it off, as the test settings do). Under gunicorn's gevent
workers the thread is a greenlet (gunicorn.conf.py patches threading), so it waits
cooperatively and never holds a request up; no request runs the sweep itself. The
thread starts with the first request a process serves (after gunicorn forks), so the
master and CLI commands never run one.

Several processes on several hosts share one throttle in Redis:

| key                | type   | content                                     | TTL                |
|--------------------|--------|---------------------------------------------|--------------------|
| quiz:finalizer:sweep | string | "a process swept within the last period" | FINALIZE_EVERY_S   |

so about one sweep per period runs wherever the app runs. Without Redis each process
sweeps on its own period: the claim in SQL hands each attempt in once whoever runs it.
SQL stays the source of truth: `finalize_expired` (the same function as the CLI
`flask attempts finalize-expired`, kept for catching up after downtime) commits each
hand-in, then tells the boards. An attempt is thus on the boards within GRACE plus about
one period (and a sweep's own time) of its deadline.
"""
import logging
import os
import threading

from flask import Flask

from quiz.clock import utcnow
from quiz.contest.attempts import finalize_expired
from quiz.extensions import db
from quiz.redis_connection import Unavailable, fail_open, redis_client

log = logging.getLogger(__name__)

EVERY_S = 3.0  # default of FINALIZE_EVERY_S
SWEEP_KEY = "quiz:finalizer:sweep"


def sweep(session, now, every_s: float = EVERY_S, client=None) -> int | None:
    """Hand in every attempt whose deadline plus grace passed, unless another process did
    within every_s (then None); returns how many were handed in. Never raises for Redis."""
    try:
        with fail_open("finalizer throttle"):
            client = client or redis_client()
            if not client.set(SWEEP_KEY, b"1", nx=True, px=max(1, int(every_s * 1000))):
                return None
    except Unavailable:
        pass  # sweep anyway: hand-ins are claimed in SQL
    return finalize_expired(session, now)


class Sweeper:
    """One process's background sweep of one app (tests build several apps)."""

    def __init__(self, app: Flask, every_s: float):
        self.app, self.every_s = app, every_s
        self.pid: int | None = None
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start the thread in this process unless it runs already (cheap: one comparison)."""
        if self.pid == os.getpid() or self.stopped.is_set():
            return
        with self._lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()  # a forked worker inherits the master's value, never its thread
            self.thread = threading.Thread(target=self._run, name="quiz-finalizer", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.every_s):
            with self.app.app_context():
                try:
                    done = sweep(db.session, utcnow(), self.every_s)
                    if done:
                        log.info("handed in %d abandoned attempt(s)", done)
                except Exception:  # the next period tries again; a request never sees it
                    log.exception("finalizer sweep failed")
                finally:
                    db.session.remove()

    def stop(self, wait_s: float = 10.0) -> None:
        self.stopped.set()
        if self.thread is not None and self.pid == os.getpid():
            self.thread.join(wait_s)


def init_app(app: Flask) -> None:
    """Run the sweep in the background of every process that serves requests."""
    every = float(app.config.get("FINALIZE_EVERY_S", EVERY_S))
    if every <= 0:
        return
    sweeper = app.extensions["quiz_finalizer"] = Sweeper(app, every)
    app.before_request(sweeper.ensure_running)


def stop(app: Flask) -> None:
    """Stop the app's sweep thread (tests; a process that stops serving)."""
    sweeper = app.extensions.get("quiz_finalizer")
    if sweeper is not None:
        sweeper.stop()
