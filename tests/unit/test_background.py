"""Stopping background work ends it even when a cancellation is absorbed on the way (a library
that catches it and goes on): the cache-event sink's and the cache manager's shutdowns return,
and what the sink still held is sent. The shape of the CI hang these replace: a task left
"cancelling" in its next sleep while `await task` waited forever."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from collabcache_shared.background import cancel_until_done
from collabcache_shared.cache.reporting import CacheEventSink

BOUND_S = 5.0


async def _absorbs_cancels(times: int, ticks: list[int]) -> None:
    """A loop that swallows its first `times` cancellations."""
    absorbed = 0
    while True:
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            absorbed += 1
            if absorbed > times:
                raise
        ticks.append(1)


async def test_a_task_that_absorbs_cancellations_is_cancelled_until_done() -> None:
    ticks: list[int] = []
    task = asyncio.create_task(_absorbs_cancels(2, ticks))
    await asyncio.sleep(0.05)

    async with asyncio.timeout(BOUND_S):
        assert await cancel_until_done([task], retry_seconds=0.05)

    assert task.cancelled()
    assert ticks  # it ran, and went on after the first cancellations


async def test_a_task_that_never_ends_is_left_behind_at_the_deadline() -> None:
    ticks: list[int] = []
    task = asyncio.create_task(_absorbs_cancels(10**9, ticks))
    await asyncio.sleep(0.02)

    assert not await cancel_until_done([task], retry_seconds=0.01, deadline_seconds=0.1)

    assert not task.done()
    task.get_coro().close()  # the test's own clean-up


class _AbsorbingRedis:
    """A client whose script call turns a cancellation into a connection error once (as a
    client library that disconnects on cancel may), and otherwise records the events."""

    def __init__(self) -> None:
        self.delay_s = 0.2
        self.absorbed = False
        self.sent: list[Any] = []

    def register_script(self, body: str) -> Callable[..., Awaitable[int]]:
        async def call(keys: list[str], args: list[Any]) -> int:
            try:
                await asyncio.sleep(self.delay_s)
            except asyncio.CancelledError:
                if self.absorbed:
                    raise
                self.absorbed = True
                raise RedisConnectionError("cancelled while reading") from None
            self.sent.extend(args[2:])
            return len(args) - 2

        return call


async def test_the_cache_event_sink_stops_though_its_client_absorbs_the_cancel() -> None:
    redis = _AbsorbingRedis()
    sink = CacheEventSink(redis, "events", flush_seconds=0.01, timeout_seconds=5.0)  # type: ignore[arg-type]
    sink.start()
    sink.record("/x", "fam", "HIT", 1.0, 10)
    await asyncio.sleep(0.05)  # the sink is inside its send now

    redis.delay_s = 0.0
    sink.record("/x", "fam", "MISS", 1.0, 10)
    stopping = asyncio.create_task(sink.stop())
    done, _ = await asyncio.wait({stopping}, timeout=BOUND_S)  # (a timeout would cancel stop)

    assert done, "the sink's stop still waits for its task"
    assert redis.absorbed
    assert redis.sent  # what it held was sent by stop's own flush
