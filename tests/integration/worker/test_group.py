"""The stream-worker kit's group commands and its dispatching broker, on the run's real Redis
under a key prefix of the test's own (removed afterwards)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from faststream.redis.annotations import RedisBatchStreamMessage
from redis.asyncio import Redis

from collabcache_shared.streams.broker import batch_subscriber, dispatch_to, dispatching_broker
from collabcache_shared.streams.group import Entry, GroupStream
from tests.integration.streams import entries
from tests.integration.worker.conftest import names_of, publish

pytestmark = pytest.mark.integration


async def test_the_group_starts_at_the_stream_start_and_reads_in_batches(
    group: GroupStream, redis: Redis
) -> None:
    published = await publish(redis, group.names.stream, 5)  # before any group exists

    assert await group.ensure_group() is True
    assert await group.ensure_group() is False  # already there: left as it is
    first = await group.read_new(count=3, block_ms=10)
    rest = await group.read_new(count=3, block_ms=10)

    assert [e.id for e in first + rest] == published
    assert (await group.group_state()).pending == 5


async def test_its_own_pending_entries_come_back_trimmed_ones_acknowledged(
    group: GroupStream, redis: Redis
) -> None:
    """A whole batch of its own pending list may be trimmed from the stream: those entries are
    acknowledged and the next ones read, so an empty batch means nothing is left."""
    await group.ensure_group()
    published = await publish(redis, group.names.stream, 150)
    await group.read_new(count=150, block_ms=10)
    await redis.xtrim(group.names.stream, minid=published[120], approximate=False)

    own = await group.read_own_pending(count=100)

    assert [e.id for e in own] == published[120:]
    assert (await group.group_state()).pending == 30
    await group.ack(*(e.id for e in own))
    assert await group.read_own_pending(count=100) == []


async def test_claims_take_over_idle_entries_with_their_delivery_counts(
    group: GroupStream, redis: Redis, prefix: str
) -> None:
    await group.ensure_group()
    published = await publish(redis, group.names.stream, 3)
    other = GroupStream(redis, names_of(prefix, "crashed"))
    await other.read_new(count=3, block_ms=10)
    await redis.xclaim(
        group.names.stream, "workers", "crashed", 0, list[Any](published[:1]), retrycount=4
    )

    batch = await group.claim(b"0-0", 0, 10, with_deliveries=True)

    assert [(e.id, e.fields, e.deliveries) for e in batch.entries] == [
        (published[0], {b"n": b"0"}, 5),  # delivered 4 times, and once more by this claim
        (published[1], {b"n": b"1"}, 2),
        (published[2], {b"n": b"2"}, 2),
    ]
    assert (batch.cursor, batch.trimmed) == (b"0-0", 0)
    uncounted = await group.claim(b"0-0", 0, 10, with_deliveries=False)
    assert [e.deliveries for e in uncounted.entries] == [1, 1, 1]


async def test_a_dead_letter_keeps_the_entry_says_why_and_is_acknowledged(
    group: GroupStream, redis: Redis
) -> None:
    await group.ensure_group()
    (entry_id,) = await publish(redis, group.names.stream, 1)
    (entry,) = await group.read_new(count=1, block_ms=10)

    await group.dead_letter(entry.id, entry.fields, reason="failed", error="boom", deliveries=3)

    assert group.names.dead_letter is not None
    ((_, dead),) = await entries(redis, group.names.dead_letter)
    assert dead[b"n"] == b"0"
    assert (dead[b"dlq:reason"], dead[b"dlq:error"], dead[b"dlq:id"]) == (
        b"failed",
        b"boom",
        entry_id,
    )
    assert dead[b"dlq:stream"] == group.names.stream.encode()
    assert (await group.group_state()).pending == 0


async def test_a_consumer_leaves_only_with_nothing_pending_to_it(
    group: GroupStream, redis: Redis
) -> None:
    assert await group.leave() is False  # no group yet: nothing to leave
    await group.ensure_group()
    await publish(redis, group.names.stream, 1)
    (entry,) = await group.read_new(count=1, block_ms=10)

    assert await group.leave() is False  # its entry waits for another consumer's claim
    await group.ack(entry.id)
    assert await group.leave() is True
    assert await redis.xinfo_consumers(group.names.stream, "workers") == []


async def test_the_dispatching_broker_hands_batches_to_its_subscriber_and_never_reads(
    servers: dict[str, str], group: GroupStream, redis: Redis
) -> None:
    """FastStream's subscriber gets the kit's batches through its parser and middlewares; its
    own start would have created the group at `$` and read the stream itself."""
    stream = group.names.stream
    broker = dispatching_broker(servers["redis"], cluster=False)
    subscriber = batch_subscriber(broker, group.names, 10)
    received: list[Sequence[object]] = []

    @subscriber
    async def handler(message: RedisBatchStreamMessage) -> None:
        received.append(message.raw_message["message_ids"])

    await publish(redis, stream, 2)
    await broker.start()
    try:
        assert subscriber.running and subscriber.tasks == []
        assert await redis.exists(stream) == 1 and await redis.xinfo_groups(stream) == []
        await dispatch_to(subscriber, stream)([Entry(b"1-0", {b"n": b"0"})])
    finally:
        await broker.stop()

    assert received == [[b"1-0"]]
