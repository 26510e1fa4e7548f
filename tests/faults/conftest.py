"""Fault tests against real servers, all on loopback (see harness.py).

Servers a test stops or kills are always private ones started here. The rest use
TEST_DATABASE_URL / TEST_REDIS_URL when set (left empty afterwards), otherwise the
suite's embedded PostgreSQL and a private redis-server.
"""
import os
import subprocess

import pytest

from faults.harness import REDIS_BIN, Deployment, PostgresServer, RedisServer, wait_for


@pytest.fixture
def workdir(tmp_path):
    return tmp_path


@pytest.fixture
def database_url(service_urls):
    return service_urls[0]


@pytest.fixture
def private_redis(workdir):
    server = RedisServer(workdir).start()
    yield server
    server.stop()


@pytest.fixture
def shared_redis_url(workdir):
    """The machine's Redis (TEST_REDIS_URL) for tests that never stop it, else a private one."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    server = RedisServer(workdir).start()
    yield server.url
    server.stop()


@pytest.fixture
def private_postgres():
    server = PostgresServer().init()
    yield server
    server.stop()


@pytest.fixture
def redis_cluster(workdir):
    """Three masters on loopback joined into a Redis Cluster; yields their servers."""
    nodes = []
    try:
        for _ in range(3):
            nodes.append(RedisServer(workdir, cluster=True).start())
        subprocess.run([str(REDIS_BIN / "redis-cli"), "--cluster", "create",
                        *[f"127.0.0.1:{n.port}" for n in nodes], "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        wait_for(lambda: all(b"cluster_state:ok" in n.command("CLUSTER", "INFO") for n in nodes),
                 30, "cluster_state:ok")
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def deploy(workdir, database_url):
    """deploy(redis_url) -> a prepared Deployment, closed (servers stopped, data emptied) afterwards."""
    made = []

    def make(redis_url: str, database: str | None = None) -> Deployment:
        deployment = Deployment(workdir, database or database_url, redis_url).prepare()
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.close()
