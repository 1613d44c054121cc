"""The stream-worker kit's fixtures: the run's real Redis under a key prefix of the test's own
(its streams removed afterwards), and a group on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from collabcache_shared.streams.group import GroupStream
from collabcache_shared.streams.names import GroupNames


@pytest.fixture
def prefix(run_id: str) -> str:
    return f"cctest:{run_id}:kit:{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def redis(servers: dict[str, str], prefix: str) -> AsyncIterator[Redis]:
    """A plain client on the run's Redis; the test's two streams go afterwards."""
    client = Redis.from_url(servers["redis"])
    yield client
    names = names_of(prefix)
    await client.delete(names.stream, str(names.dead_letter))
    await client.aclose()


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
