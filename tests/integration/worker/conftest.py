"""The stream-worker kit's fixtures: a group on the run's real Redis, under the test's own key
prefix (`prefix`, whose keys go afterwards; `redis`: tests/integration/conftest.py)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from collabcache_shared.streams.group import GroupStream
from collabcache_shared.streams.names import GroupNames


def names_of(prefix: str, consumer: str = "me") -> GroupNames:
    return GroupNames(f"{prefix}:stream", "workers", consumer, f"{prefix}:stream:dead-letter")


@pytest.fixture
def group(redis: Redis, prefix: str) -> GroupStream:
    return GroupStream(redis, names_of(prefix))


async def publish(redis: Redis, stream: str, count: int) -> list[bytes]:
    pipe = redis.pipeline(transaction=False)
    for n in range(count):
        pipe.xadd(stream, {b"n": str(n).encode()})
    return list(await pipe.execute())
