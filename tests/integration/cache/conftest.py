"""A CacheManager on the run's Redis, under a key prefix of its own per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.cache.store import EntryStore
from collabcache_shared.settings import CacheSettings


@pytest.fixture
async def redis(servers: dict[str, str]) -> AsyncIterator[Redis]:
    client = Redis.from_url(servers["redis"])
    yield client
    await client.aclose()


@pytest.fixture
def keyspace(run_id: str) -> KeySpace:
    return KeySpace(prefix=f"cctest:{run_id}:{uuid.uuid4().hex[:8]}")


@pytest.fixture
def cache(redis: Redis, keyspace: KeySpace) -> CacheManager:
    return CacheManager(EntryStore(redis, keyspace), CacheSettings())
