"""Stopping the service mid-stream, and a consumer that died holding a batch it had read:
whoever consumes next counts every event exactly once (nothing lost, nothing doubled)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from collabcache_metrics.bootstrap import build
from collabcache_metrics.consumer import fold_cache_entries
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import CACHE_EVENTS_STREAM, METRICS_GROUP
from collabcache_shared.metrics.layout import AggregateKeys
from collabcache_shared.metrics.reader import AggregateReader
from collabcache_shared.metrics.writer import AggregateWriter, DeadlinePassed
from collabcache_shared.settings import RedisSettings
from tests.integration.metrics.support import (
    FAST,
    assert_figures,
    claimed_by,
    consumed_by,
    eventually,
    expected_figures,
    failed_batches_of,
    group_settled,
    publish,
    publish_slowly,
    running,
    steady_events,
)
from tests.integration.streams import read_group

N = 6000
CRASHED_BATCH = 300
HALF = N // 2


async def test_a_restart_mid_stream_and_a_crashed_reader_lose_and_double_nothing(
    settings_under: RedisSettings, keyspace: KeySpace, redis: Redis
) -> None:
    stream = keyspace.stream(CACHE_EVENTS_STREAM)
    events = steady_events(N)
    # A consumer read a batch and died before applying it: the entries stay pending to it.
    await publish(redis, stream, events[:CRASHED_BATCH])
    await redis.xgroup_create(stream, METRICS_GROUP, id="0", mkstream=True)
    read = await read_group(redis, METRICS_GROUP, "crashed", stream, count=CRASHED_BATCH)
    assert len(read) == CRASHED_BATCH
    first_stopped = asyncio.Event()

    async def flow() -> None:  # events keep coming while the first consumer stops
        await publish_slowly(redis, stream, events[CRASHED_BATCH:HALF], chunk=100, pause=0.05)
        await first_stopped.wait()
        await publish_slowly(redis, stream, events[HALF:], chunk=100, pause=0.05)

    publisher = asyncio.create_task(flow())
    first = build(settings_under, FAST)
    async with running(first):
        await eventually(lambda: _at_least(first, 1000))
    first_stopped.set()

    second = build(settings_under, FAST)
    async with running(second):
        await publisher
        await eventually(lambda: group_settled(redis, stream))
        snapshot = await AggregateReader(redis, keyspace).snapshot(totals=True)

    assert consumed_by(first) + consumed_by(second) == N  # each event folded exactly once
    # The dead reader's batch is claimed; so is any batch a live reader left pending because it
    # could not apply it before its deadline (a busy host), and nothing else.
    left_pending = failed_batches_of(first) + failed_batches_of(second)
    claimed = claimed_by(first) + claimed_by(second)
    assert CRASHED_BATCH <= claimed <= CRASHED_BATCH + FAST.batch_size * left_pending
    assert snapshot.totals is not None
    from collabcache_metrics.stats import figures

    assert_figures(figures(snapshot.totals.overall, 60), expected_figures(events, 60), "totals")
    assert_figures(figures(snapshot.windows["1m"].overall, 60), expected_figures(events, 60), "1m")
    consumers = {c["name"].decode() for c in await redis.xinfo_consumers(stream, METRICS_GROUP)}
    assert consumers == {"crashed"}  # the stopped replicas left the group; the dead one did not


async def _at_least(service: object, count: int) -> bool:
    return consumed_by(service) >= count  # type: ignore[arg-type]


async def test_a_batch_read_too_long_ago_is_left_pending_for_a_claim(
    keyspace: KeySpace, redis: Redis
) -> None:
    """The reader of a batch gives up past its deadline (half the claim idle time), so it never
    applies a batch a claimer may already have applied."""
    stream = keyspace.stream(CACHE_EVENTS_STREAM)
    await publish(redis, stream, steady_events(10))
    await redis.xgroup_create(stream, METRICS_GROUP, id="0")
    read = await read_group(redis, METRICS_GROUP, "slow", stream, count=10)
    ids, fields = [i for i, _ in read], [f for _, f in read]
    keys = AggregateKeys.of(keyspace, CACHE_EVENTS_STREAM)
    clock = iter([100.0, 100.0])
    writer = AggregateWriter(redis, keys, METRICS_GROUP, clock=lambda: next(clock))

    with pytest.raises(DeadlinePassed):
        await writer.apply(fold_cache_entries(fields, keys, 0), ids, deadline=99.0)

    assert (await redis.xpending(stream, METRICS_GROUP))["pending"] == 10
    assert await redis.exists(keys.totals) == 0
    await writer.apply(fold_cache_entries(fields, keys, 0), ids, deadline=101.0)
    assert (await redis.xpending(stream, METRICS_GROUP))["pending"] == 0
    assert int(await redis.hget(keys.totals, "n|HIT|/api/organizations/{org_id}/members") or 0) > 0


async def test_after_the_stream_and_its_group_are_lost_the_service_recreates_them_and_goes_on(
    settings_under: RedisSettings, keyspace: KeySpace, redis: Redis
) -> None:
    """A Redis restarted without its data loses the stream and the group: the worker's reader
    creates the group again from the stream's start, so what is published afterwards is
    counted."""
    stream = keyspace.stream(CACHE_EVENTS_STREAM)
    before, after = steady_events(200), steady_events(300)
    service = build(settings_under, FAST)

    async with running(service):
        await publish(redis, stream, before)
        await eventually(lambda: group_settled(redis, stream))
        await redis.delete(stream)  # the entries and the group with them
        await asyncio.sleep(0.5)  # the subscriber's next read fails: it stops
        await publish(redis, stream, after)
        await eventually(lambda: group_settled(redis, stream))
        snapshot = await AggregateReader(redis, keyspace).snapshot(totals=True)

    assert consumed_by(service) == len(before) + len(after)
    assert snapshot.totals is not None
    assert snapshot.totals.overall.requests == len(before) + len(after)


async def test_entries_a_stopping_consumer_read_and_never_applied_are_applied_before_it_leaves(
    settings_under: RedisSettings, keyspace: KeySpace, redis: Redis
) -> None:
    """Entries pending to this consumer (a batch whose transaction failed, or a read an earlier
    run with its name was cut off from): at shutdown it applies them itself (no wait for
    another replica's claim) and leaves."""
    stream = keyspace.stream(CACHE_EVENTS_STREAM)
    await publish(redis, stream, steady_events(250))
    await redis.xgroup_create(stream, METRICS_GROUP, id="0", mkstream=True)
    # What this consumer read and never applied (no claim touches it here: idle time 10 min)
    read = await read_group(redis, METRICS_GROUP, "stopping", stream, count=250)
    second_oldest = read[1][0]
    await redis.xtrim(stream, minid=second_oldest, approximate=False)  # the oldest is gone
    service = build(
        settings_under, FAST.model_copy(update={"claim_idle_ms": 600_000}), consumer="stopping"
    )

    assert (await redis.xpending(stream, METRICS_GROUP))["pending"] == 250

    async with running(service):
        await asyncio.sleep(0.3)

    assert (await redis.xpending(stream, METRICS_GROUP))["pending"] == 0
    assert consumed_by(service) == 249
    snapshot = await AggregateReader(redis, keyspace).snapshot(totals=True)
    assert snapshot.totals is not None and snapshot.totals.overall.requests == 249
    assert await redis.xinfo_consumers(stream, METRICS_GROUP) == []
