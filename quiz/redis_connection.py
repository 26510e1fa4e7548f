"""The app's Redis connection: a server named by REDIS_URL, or the embedded one.

Timeouts are short on purpose: Redis holds only derived data, so a slow or
missing Redis must degrade a request quickly instead of hanging it.
"""
import contextlib
import logging

import redis
from flask import current_app
from redis.cluster import RedisCluster

from quiz import embedded_redis

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """Redis could not be reached (or a board awaits its rebuild); pages show a notice."""


failures = 0  # Redis errors this process has met (the leaderboard's catch-up compares it)


@contextlib.contextmanager
def fail_open(what: str):
    """A Redis error inside the block is counted, logged and raised as Unavailable: Redis
    holds only derived data, so callers degrade (a notice, a catch-up later), never fail."""
    global failures
    try:
        yield
    except redis.RedisError as exc:
        failures += 1
        log.warning("redis unavailable (%s): %s", what, exc)
        raise Unavailable(what) from exc


def redis_client():
    """The one Redis client of the current app (created on first use)."""
    return current_app.extensions["quiz_redis"].client()


class RedisConnection:
    def __init__(self, url: str, instance_path: str):
        self.embedded = not url
        self.instance_path = instance_path
        self.url = url or f"unix://{embedded_redis.socket_path(instance_path)}"
        self._client = None

    def client(self):
        if self._client is None:
            if self.embedded:
                embedded_redis.ensure_running(self.instance_path)
            self._client = make_client(self.url)
        return self._client

    def limiter_storage_uri(self) -> str:
        if self.url.startswith("unix://"):
            return "redis+unix://" + self.url[len("unix://"):]
        if self.url.startswith("redis-cluster://"):
            return "redis+cluster://" + self.url[len("redis-cluster://"):]
        return self.url


def make_client(url: str):
    """A client for redis://, rediss://, unix:// or redis-cluster://host:port (any one node)."""
    options = dict(socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30)
    if url.startswith("redis-cluster://"):
        return SlotAwareCluster.from_url("redis://" + url[len("redis-cluster://"):], **options)
    return redis.Redis.from_url(url, **options)


class SlotAwareCluster(RedisCluster):
    """redis-py blocks RENAME in every cluster pipeline; inside MULTI it is legal, because
    the transaction already refuses keys of more than one slot (the leaderboard hash-tags
    every key of a contest and swaps rebuilt keys in with RENAME)."""

    def pipeline(self, transaction=None, shard_hint=None):
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        if transaction:
            pipe.rename = lambda src, dst: pipe.execute_command("RENAME", src, dst)
        return pipe
