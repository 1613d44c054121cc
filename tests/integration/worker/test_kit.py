"""The stream-worker kit on the run's real Redis: batches read from the stream's start, entries
of dead consumers claimed, entries delivered too often abandoned, the group recreated after
the stream was lost, Redis awaited, and a clean stop (the batch in flight finished, its own
pending entries settled when asked, the group left)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from collabcache_shared.cache.client import make_redis
from collabcache_shared.settings import RedisSettings
from collabcache_shared.streams.group import Entry, GroupStream
from collabcache_shared.streams.worker import Consumed, Consuming, StreamWorker
from tests.integration.cache.redis_server import RedisServer, temp_directory
from tests.integration.worker.conftest import names_of, publish

pytestmark = pytest.mark.integration
NEVER_IDLE_ENOUGH = 600_000


class Handler:
    """A batch handler that acknowledges what it handles, after `seconds`; entries in `fails`
    are left pending."""

    def __init__(self, group: GroupStream, seconds: float = 0.0, fails: bool = False) -> None:
        self.group = group
        self.seconds = seconds
        self.fails = fails
        self.batches: list[list[bytes]] = []
        self.begun = asyncio.Event()

    @property
    def handled(self) -> list[bytes]:
        return [i for batch in self.batches for i in batch]

    async def __call__(self, entries: Sequence[Entry]) -> None:
        self.begun.set()
        await asyncio.sleep(self.seconds)
        self.batches.append([e.id for e in entries])
        if not self.fails:
            await self.group.ack(*(e.id for e in entries))


def worker_of(group: GroupStream, handler: Handler, **options: Any) -> StreamWorker:
    abandon = options.pop("abandon", None)
    consuming = {"batch_size": 10, "claim_idle_ms": 300, "claim_interval_seconds": 0.05}
    return StreamWorker(
        "test", [Consumed(group, handler, abandon=abandon)], Consuming(**(consuming | options))
    )


@asynccontextmanager
async def running(worker: StreamWorker) -> AsyncIterator[StreamWorker]:
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not true after {within}s: {check.__qualname__}"
        await asyncio.sleep(0.02)


async def consumers(group: GroupStream) -> dict[bytes, int]:
    found = await group.redis.xinfo_consumers(group.names.stream, group.names.group)
    return {c["name"]: c["pending"] for c in found}


async def test_what_was_published_before_the_first_start_is_read_in_batches(
    group: GroupStream, redis: Redis
) -> None:
    published = await publish(redis, group.names.stream, 25)
    handler = Handler(group)

    async with running(worker_of(group, handler)):
        await eventually(lambda: _handled(handler, 25))

    assert handler.handled == published
    assert max(len(batch) for batch in handler.batches) <= 10
    assert await consumers(group) == {}  # stopped cleanly: it left the group


async def _handled(handler: Handler, count: int) -> bool:
    return len(handler.handled) >= count


async def test_entries_a_dead_consumer_left_pending_are_claimed_once_idle(
    group: GroupStream, redis: Redis, prefix: str
) -> None:
    await group.ensure_group()
    published = await publish(redis, group.names.stream, 5)
    await GroupStream(redis, names_of(prefix, "crashed")).read_new(count=5, block_ms=10)
    read_at, claimed = time.monotonic(), list[object]()
    handler = Handler(group)
    worker = worker_of(group, handler)
    worker.claims.streams[0].claimed = claimed.append

    async with running(worker):
        await eventually(lambda: _handled(handler, 5))

    assert time.monotonic() - read_at >= 0.3  # only once idle that long
    assert handler.handled == published and claimed == [5]
    assert await consumers(group) == {b"crashed": 0}


async def test_an_entry_delivered_more_often_than_allowed_is_abandoned_untried(
    group: GroupStream, redis: Redis, prefix: str
) -> None:
    await group.ensure_group()
    given_up, retried = await publish(redis, group.names.stream, 2)
    await GroupStream(redis, names_of(prefix, "crashed")).read_new(count=2, block_ms=10)
    await redis.xclaim(group.names.stream, "workers", "crashed", 0, [given_up], retrycount=2)
    abandoned: list[Entry] = []

    async def abandon(entry: Entry) -> None:
        abandoned.append(entry)
        await group.ack(entry.id)

    handler = Handler(group)
    async with running(worker_of(group, handler, max_deliveries=2, abandon=abandon)):
        await eventually(lambda: _handled(handler, 1))
        await eventually(lambda: _settled(group))

    assert [(e.id, e.deliveries) for e in abandoned] == [(given_up, 3)]
    assert handler.handled == [retried]


async def _settled(group: GroupStream) -> bool:
    state = await group.group_state()
    return (state.lag, state.pending) == (0, 0)


async def test_after_its_stream_is_lost_the_group_is_created_again_from_the_start(
    group: GroupStream, redis: Redis
) -> None:
    """As after a Redis restarted without its data: what is published before the reader
    notices is read too (a group created at `$` would skip it)."""
    handler = Handler(group)
    async with running(worker_of(group, handler, retry_seconds=0.5)):
        before = await publish(redis, group.names.stream, 3)
        await eventually(lambda: _handled(handler, 3))
        await redis.delete(group.names.stream)  # the entries and the group with them
        after = await publish(redis, group.names.stream, 4)
        await eventually(lambda: _handled(handler, 7))

    assert handler.handled == before + after


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
async def test_a_worker_started_while_redis_is_away_reads_once_it_answers() -> None:
    server = RedisServer(temp_directory("kit-away"))  # a private one, started late
    client = make_redis(RedisSettings(url=server.url, socket_connect_timeout=0.05))
    plain = Redis.from_url(server.url)
    group = GroupStream(client, names_of("kit"))
    handler = Handler(group)
    try:
        async with running(worker_of(group, handler, retry_seconds=0.05)):
            await asyncio.sleep(0.3)  # reads failing, retried
            server.start()
            published = await publish(plain, group.names.stream, 3)
            await eventually(lambda: _handled(handler, 3))
    finally:
        await plain.aclose()
        await client.aclose()
        server.stop()

    assert handler.handled == published


async def test_a_stop_finishes_the_batch_in_flight_then_leaves_the_group_for_good(
    group: GroupStream, redis: Redis
) -> None:
    published = await publish(redis, group.names.stream, 5)
    handler = Handler(group, seconds=0.3)
    worker = worker_of(group, handler)

    async with running(worker):
        await handler.begun.wait()

    assert not worker.running
    assert handler.handled == published  # handled and acknowledged before the stop ended
    assert await _settled(group)
    await asyncio.sleep(0.3)  # no read of the stopped worker reaches Redis afterwards
    assert await consumers(group) == {}


@pytest.mark.parametrize("settle", [True, False], ids=["settled", "kept"])
async def test_at_a_stop_its_own_pending_entries_are_settled_when_asked(
    group: GroupStream, redis: Redis, settle: bool
) -> None:
    await group.ensure_group()
    published = await publish(redis, group.names.stream, 4)
    await group.read_new(count=4, block_ms=10)  # an earlier run with this name read them
    handler = Handler(group)
    worker = worker_of(
        group, handler, claim_idle_ms=NEVER_IDLE_ENOUGH, settle_own_pending_at_stop=settle
    )

    async with running(worker):
        await asyncio.sleep(0.2)

    if settle:
        assert (handler.handled, await consumers(group)) == (published, {})
    else:  # left for another consumer's claim, and it stays in the group to be claimed from
        assert (handler.handled, await consumers(group)) == ([], {b"me": 4})


async def test_settling_its_own_pending_entries_stops_when_a_batch_comes_back_unsettled(
    group: GroupStream, redis: Redis
) -> None:
    await group.ensure_group()
    await publish(redis, group.names.stream, 3)
    await group.read_new(count=3, block_ms=10)
    handler = Handler(group, fails=True)
    worker = worker_of(
        group, handler, claim_idle_ms=NEVER_IDLE_ENOUGH, settle_own_pending_at_stop=True
    )

    async with running(worker):
        pass

    assert len(handler.batches) == 1
    assert await consumers(group) == {b"me": 3}
