"""Rate budgets checked in one Redis round trip: the login budgets, registration's, attempt
starts' and answer saves' (quiz/web/security.py defines them).

A budget is a fixed window per key (an address, a phone at an address, a citizen, an
organizer), its size a limit string of the settings ("10 per 5 minutes"). `guard(*budgets)`
checks every budget of a view in one round trip before it runs and, after it, settles in
one more what the view's outcome spends (`Budget.spends`, e.g. a failed password check:
security.note_login); a budget without `spends` counts every request, in the checking
call. A `presumed` budget is counted with the check as if the outcome spends it, and taken
back after if it did not: a view whose common outcome is the presumed one (a login that
succeeds) then makes one round trip, not two. Flask-Limiter, which keeps the other limits,
made a round trip a limit and resolved each limit's settings per request: seven round
trips for a login, 45 % of its CPU (docs/benchmarks.md).

The rule of a window: one counted with this request is spent when its count is beyond
its amount; one only read is spent at its amount. A refused request (429) keeps what it
counted of the budgets every request spends, and takes back its presumed counts.

This module owns the keys `budget:<scope>:<limit>:<key>`. A window starts at its first
count and lasts the limit's period (the key's expiry), as Flask-Limiter's fixed windows; a
count taken back to zero removes the key.
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
COUNT, READ, TAKE_BACK = 1, 0, -1  # what a call does to a window's count


@dataclass(frozen=True)
class Budget:
    scope: str  # shared by every view guarded with this budget
    setting: str  # the name of its limit in the app's config
    key: Callable[[], str]  # who spends, for this request ("": the budget does not apply)
    spends: Callable[[], bool] | None = None  # after the view: whether the request spends; None: every request
    presumed: bool = False  # with `spends`: counted with the check, taken back after if the request did not spend


@dataclass(frozen=True)
class _Window:
    key: str
    amount: int
    period_s: int
    budget: Budget

    @property
    def counted_with_check(self) -> bool:
        return self.budget.spends is None or self.budget.presumed


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
                _settle(windows)

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
    """Raise 429 if a window is spent (the module's rule); count the windows counted with the check."""
    if not windows:
        return
    changes = [(window, COUNT if window.counted_with_check else READ) for window in windows]
    store, counts = _apply(changes)
    spent = [window for (window, change), n in zip(changes, counts, strict=True)
             if n > window.amount or (n == window.amount and change == READ)]
    if spent:
        presumed = [(window, TAKE_BACK) for window in windows if window.budget.presumed]
        if presumed:
            _apply(presumed)
        try:
            waits = store.seconds_left(spent)
        except redis.RedisError:
            waits = [window.period_s for window in spent]
        raise TooManyRequests(retry_after=max(1, *waits))


def _settle(windows: list[_Window]) -> None:
    """After the view: count what its outcome spends, take back a presumed count it did not."""
    changes = []
    for window in windows:
        if window.budget.spends is None:
            continue
        change = int(window.budget.spends()) - int(window.budget.presumed)
        if change:
            changes.append((window, change))
    if changes:
        _apply(changes)


def _apply(changes: list[tuple[_Window, int]]):
    """The store that took the changes, and the counts after them, in order."""
    try:
        store = _store()
        return store, store.apply(changes)
    except redis.RedisError as exc:
        store = _memory_after(exc)
        return store, store.apply(changes)


# ---- where the counts are ----------------------------------------------------------

# Change each key's count by its letter in ARGV[1] ("+": count, a window starting at its
# first count with the next of ARGV[2..] as its seconds; "0": read; "-": take back, a count
# of zero removing the key); the counts in KEYS order. One command: a pipeline of plain
# commands cost redis-py ~0.2 ms of CPU a request, a fifth of a login's, and each argument
# costs redis-py's packing too (hence the changes as one string).
_CHANGE_COUNTS = """
local found = {}
local period = 1
for i, key in ipairs(KEYS) do
  local change = string.sub(ARGV[1], i, i)
  if change == '0' then
    found[i] = tonumber(redis.call('GET', key) or '0')
  elseif change == '+' then
    period = period + 1
    found[i] = redis.call('INCR', key)
    if found[i] == 1 then redis.call('EXPIRE', key, ARGV[period]) end
  else
    found[i] = redis.call('DECR', key)
    if found[i] <= 0 then redis.call('DEL', key); found[i] = 0 end
  end
end
return found
"""
_SCRIPT_SHA = hashlib.sha1(_CHANGE_COUNTS.encode()).hexdigest()
_LETTERS = {COUNT: "+", READ: "0", TAKE_BACK: "-"}


def _counts_by_script(client, keys: list[str], args: list) -> list[int]:
    try:
        return client.evalsha(_SCRIPT_SHA, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:  # a server that has not seen it (or restarted)
        client.script_load(_CHANGE_COUNTS)
        return client.evalsha(_SCRIPT_SHA, len(keys), *keys, *args)


class _RedisCounts:
    """One script call on a server; on a cluster (a request's keys are in several slots)
    plain commands in a pipeline without a transaction. The time left is asked only of a
    spent window."""

    def __init__(self, client):
        self.client = client

    def apply(self, changes: list[tuple[_Window, int]]) -> list[int]:
        """Each window's count changed by its COUNT, READ or TAKE_BACK: the counts after, in
        order, in one round trip (two on a cluster when a count taken back reaches zero)."""
        if not isinstance(self.client, RedisCluster):
            letters = "".join(_LETTERS[change] for _, change in changes)
            periods = [window.period_s for window, change in changes if change == COUNT]
            return _counts_by_script(self.client, [window.key for window, _ in changes], [letters, *periods])
        pipe = self.client.pipeline(transaction=False)
        for window, change in changes:
            if change == COUNT:
                pipe.set(window.key, 0, ex=window.period_s, nx=True)
                pipe.incr(window.key)
            elif change == TAKE_BACK:
                pipe.decr(window.key)
            else:
                pipe.get(window.key)
        replies = iter(pipe.execute())
        counts = []
        for _, change in changes:
            if change == COUNT:
                next(replies)  # the SET NX that starts a window
            counts.append(max(0, int(next(replies) or 0)))
        emptied = [window.key for (window, change), n in zip(changes, counts, strict=True)
                   if change == TAKE_BACK and n <= 0]
        for key in emptied:  # rare: a refused or settled request that took back a window's only count
            self.client.delete(key)
        return counts

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

    def apply(self, changes: list[tuple[_Window, int]]) -> list[int]:
        """As _RedisCounts.apply."""
        now = time.monotonic()
        counts = []
        with self.lock:
            for window, change in changes:
                entry = self._live(window, now)
                if change == COUNT and entry is None:
                    entry = self.counts[window.key] = [0, now + window.period_s]
                if entry is not None:
                    entry[0] += change
                    if entry[0] <= 0:
                        del self.counts[window.key]
                counts.append(max(0, entry[0]) if entry is not None else 0)
            return counts

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
