"""Rate budgets checked in one Redis round trip: the login budgets, registration's, attempt
starts' and answer saves' (quiz/web/security.py defines them).

A budget is a fixed window per key (an address, a phone at an address, a citizen, an
organizer), its size a limit string of the settings ("10 per 5 minutes"). `guard(*budgets)`
checks every budget of a view in one pipeline before it runs and, after it, counts in one
more what the view's outcome spends (`Budget.spends`, e.g. a failed password check:
security.note_login); a budget without `spends` counts every request, in the checking
pipeline. Flask-Limiter, which keeps the other limits, made a round trip a limit and
resolved each limit's settings per request: seven round trips for a login, 45 % of its CPU
(docs/benchmarks.md).

This module owns the keys `budget:<scope>:<limit>:<key>`. A window starts at its first
count and lasts the limit's period (the key's expiry), as Flask-Limiter's fixed windows.
When Redis is away the counts go on in this process's memory, from zero: no 500s, and a
guesser is still stopped; Redis is tried again after MEMORY_FOR_S.
"""
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import current_app, request
from limits import parse_many
from redis.cluster import RedisCluster
from werkzeug.exceptions import TooManyRequests

from quiz.redis_connection import redis_client

log = logging.getLogger(__name__)
MEMORY_FOR_S = 5.0  # after a Redis error, count in memory this long before trying Redis again


@dataclass(frozen=True)
class Budget:
    scope: str  # shared by every view guarded with this budget
    setting: str  # the name of its limit in the app's config
    key: Callable[[], str]  # who spends, for this request ("": the budget does not apply)
    spends: Callable[[], bool] | None = None  # after the view: whether the request spends; None: every request


@dataclass(frozen=True)
class _Window:
    key: str
    amount: int
    period_s: int
    budget: Budget


def guard(*budgets: Budget, methods: tuple[str, ...] = ("POST",)):
    """A decorator: the view's requests by `methods` within every budget, else 429 with Retry-After."""
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if request.method not in methods or not current_app.config.get("RATELIMIT_ENABLED", True):
                return view(*args, **kwargs)
            windows = _windows(budgets)
            _check(windows)
            try:
                return view(*args, **kwargs)
            finally:
                _count([w for w in windows if w.budget.spends is not None and w.budget.spends()])

        return guarded

    return decorate


def _windows(budgets) -> list[_Window]:
    windows = []
    for budget in budgets:
        who = budget.key()
        if not who:
            continue
        for amount, period_s in _sizes(current_app.config[budget.setting]):
            windows.append(_Window(f"budget:{budget.scope}:{amount}/{period_s}:{who}", amount, period_s, budget))
    return windows


@functools.lru_cache(maxsize=64)
def _sizes(limit: str) -> tuple[tuple[int, int], ...]:
    """(amount, period in seconds) of each limit in a setting such as "10 per 5 minutes"."""
    return tuple((item.amount, item.get_expiry()) for item in parse_many(limit))


def _check(windows: list[_Window]) -> None:
    """Raise 429 if a window is spent; count the windows of budgets that every request spends."""
    if not windows:
        return
    counted = [w for w in windows if w.budget.spends is None]
    read = [w for w in windows if w.budget.spends is not None]
    try:
        store = _store()
        counts = store.count_and_read(counted, read)
    except redis.RedisError as exc:
        store = _memory_after(exc)
        counts = store.count_and_read(counted, read)
    # A counted window is spent beyond its amount (this request included), a read one at it.
    spent = [window for window, n in zip(counted + read, counts, strict=True)
             if n > window.amount or (n == window.amount and window.budget.spends is not None)]
    if spent:
        try:
            waits = store.seconds_left(spent)
        except redis.RedisError:
            waits = [window.period_s for window in spent]
        raise TooManyRequests(retry_after=max(1, *waits))


def _count(windows: list[_Window]) -> None:
    if not windows:
        return
    try:
        _store().count_and_read(windows, [])
    except redis.RedisError as exc:
        _memory_after(exc).count_and_read(windows, [])


# ---- where the counts are ----------------------------------------------------------

# Count the first ARGV[1] keys (a window starts at its first count: ARGV[1 + i] its seconds)
# and read the others; their counts in KEYS order. One command: a pipeline of plain commands
# cost redis-py ~0.2 ms of CPU a request, a fifth of a login's.
_COUNT_AND_READ = """
local counted = tonumber(ARGV[1])
local found = {}
for i, key in ipairs(KEYS) do
  if i <= counted then
    found[i] = redis.call('INCR', key)
    if found[i] == 1 then redis.call('EXPIRE', key, ARGV[1 + i]) end
  else
    found[i] = tonumber(redis.call('GET', key) or '0')
  end
end
return found
"""
_SCRIPT_SHA = hashlib.sha1(_COUNT_AND_READ.encode()).hexdigest()


def _counts_by_script(client, keys: list[str], args: list) -> list[int]:
    try:
        return client.evalsha(_SCRIPT_SHA, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:  # a server that has not seen it (or restarted)
        client.script_load(_COUNT_AND_READ)
        return client.evalsha(_SCRIPT_SHA, len(keys), *keys, *args)


class _RedisCounts:
    """One script call on a server; on a cluster (a request's keys are in several slots)
    plain commands in a pipeline without a transaction. The time left is asked only of a
    spent window."""

    def __init__(self, client):
        self.client = client

    def count_and_read(self, count: list[_Window], read: list[_Window]) -> list[int]:
        """Count each of `count` (a window starts at its first count) and read each of `read`:
        the counts, in that order, in one round trip."""
        if not isinstance(self.client, RedisCluster):
            return _counts_by_script(self.client, [w.key for w in count + read],
                                     [len(count)] + [w.period_s for w in count])
        pipe = self.client.pipeline(transaction=False)
        for window in count:
            pipe.set(window.key, 0, ex=window.period_s, nx=True)
            pipe.incr(window.key)
        for window in read:
            pipe.get(window.key)
        replies = pipe.execute()
        return [replies[2 * i + 1] for i in range(len(count))] + [int(n or 0) for n in replies[2 * len(count):]]

    def seconds_left(self, windows: list[_Window]) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        for window in windows:
            pipe.ttl(window.key)
        return [ttl if ttl and ttl > 0 else window.period_s for ttl, window in zip(pipe.execute(), windows, strict=True)]


class _MemoryCounts:
    """The same counts in this process while Redis is away (Flask-Limiter's in-memory fallback)."""

    def __init__(self):
        self.counts: dict[str, list] = {}  # key -> [count, ends at (monotonic)]
        self.lock = threading.Lock()
        self.until = 0.0  # counting here until then

    def _live(self, window: _Window, now: float) -> list | None:
        entry = self.counts.get(window.key)
        return entry if entry is not None and entry[1] > now else None

    def count_and_read(self, count: list[_Window], read: list[_Window]) -> list[int]:
        now = time.monotonic()
        with self.lock:
            for window in count:
                entry = self._live(window, now)
                if entry is None:
                    entry = self.counts[window.key] = [0, now + window.period_s]
                entry[0] += 1
            return [(entry[0] if (entry := self._live(window, now)) else 0) for window in count + read]

    def seconds_left(self, windows: list[_Window]) -> list[int]:
        now = time.monotonic()
        with self.lock:
            return [max(1, int(entry[1] - now + 0.999)) if (entry := self._live(window, now)) else window.period_s
                    for window in windows]


def _memory() -> _MemoryCounts:
    memory = current_app.extensions.get("quiz_budget_memory")
    if memory is None:
        memory = current_app.extensions.setdefault("quiz_budget_memory", _MemoryCounts())
    return memory


def _store():
    memory = _memory()
    if time.monotonic() < memory.until:
        return memory
    return _RedisCounts(redis_client())


def _memory_after(exc: Exception) -> _MemoryCounts:
    memory = _memory()
    memory.until = time.monotonic() + MEMORY_FOR_S
    log.warning("rate budgets counted in memory for %.0f s: redis unavailable (%s)", MEMORY_FOR_S, exc)
    return memory
