"""A CacheManager under a key prefix of its own per test, on each Redis backend: the run's
standalone Redis and a private 3-node Redis Cluster (every `cache` test runs on both).

`private_redis` is a standalone server of this session alone, for tests that kill, pause or
restart it; `redis_cluster` is the cluster. Both are torn down whatever the tests did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.store import AnyRedis
from collabcache_shared.settings import RedisSettings
from tests.integration.cache.redis_server import RedisCluster, RedisServer, temp_directory

BACKENDS = ["standalone", "cluster"]


@pytest.fixture(scope="session")
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer(temp_directory("redis"))
    try:
        server.start()
        server.wait_for_uptime()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    cluster = RedisCluster(temp_directory("cluster"))
    try:
        cluster.start()
        for node in cluster.nodes:
            node.wait_for_uptime()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=BACKENDS)
def redis_settings_for(request: pytest.FixtureRequest, servers: dict[str, str]) -> RedisSettings:
    """The client settings of one backend, as a deployment would write them."""
    if request.param == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        return RedisSettings(url=cluster.url, cluster=True)
    return RedisSettings(url=servers["redis"])


@pytest.fixture
async def redis(redis_settings_for: RedisSettings) -> AsyncIterator[AnyRedis]:
    """Here a client of each backend in turn (tests/integration/conftest.py's plain client,
    overridden): every test of this folder runs on the standalone Redis and on the cluster."""
    client = make_redis(redis_settings_for)
    yield client
    await client.aclose()
