"""The metrics service against the run's real Redis, each test under a key prefix of its own:
its streams, groups and aggregates collide with nothing and are removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.settings import RedisSettings


@pytest.fixture
def prefix(run_id: str) -> str:
    return f"cctest:{run_id}:met:{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings_under(servers: dict[str, str], prefix: str) -> RedisSettings:
    return RedisSettings(url=servers["redis"], key_prefix=prefix)


@pytest.fixture
def keyspace(prefix: str) -> KeySpace:
    return KeySpace(prefix=prefix)


@pytest.fixture
async def redis(servers: dict[str, str], prefix: str) -> AsyncIterator[Redis]:
    """A plain client on the run's Redis; every key under the test's prefix goes afterwards."""
    client = Redis.from_url(servers["redis"])
    yield client
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()
