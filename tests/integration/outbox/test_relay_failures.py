"""Nothing committed is lost: not when a relay dies mid-round, nor while Redis is down, nor
when the database connection drops; and two relays at once publish every row once, in order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator, Sequence

import asyncpg
import pytest
from redis.asyncio import Redis

from collabcache_api.outbox.relay import OutboxRelay
from collabcache_api.outbox.repository import OutboxRow
from tests.integration.cache.redis_server import RedisServer, temp_directory
from tests.integration.outbox.conftest import (
    RelayFactory,
    eventually,
    insert_organizations,
    outbox_rows,
    read_stream,
)


def _orgs(messages: Sequence[object]) -> list[str]:
    return [m.event["payload"]["organization_id"] for m in messages]  # type: ignore[attr-defined]


async def test_events_committed_while_no_relay_runs_go_out_when_one_starts(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    ids = await insert_organizations(empty_outbox, 5)
    relay = make_relay()
    relay.start()

    async def delivered() -> bool:
        return relay.published == 5

    await eventually(delivered)
    assert _orgs(await read_stream(redis, stream)) == [str(i) for i in ids]


@pytest.mark.parametrize("dies", ["before_publishing", "after_publishing"])
async def test_a_relay_that_dies_mid_round_loses_nothing(
    dies: str,
    empty_outbox: asyncpg.Pool,
    make_relay: RelayFactory,
    redis: Redis,
    stream: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await insert_organizations(empty_outbox, 5)
    first = make_relay()
    in_round = asyncio.Event()
    real_publish = first.publisher.publish

    async def publish_then_hang(rows: Sequence[OutboxRow]) -> None:
        if dies == "after_publishing":
            await real_publish(rows)
        in_round.set()
        await asyncio.Event().wait()  # the process dies here, holding the round open

    monkeypatch.setattr(first.publisher, "publish", publish_then_hang)
    first.start()
    await asyncio.wait_for(in_round.wait(), 5)
    await asyncio.wait_for(first.stop(), 5)  # cancelled mid-transaction: rolled back
    assert len(await outbox_rows(empty_outbox)) == 5
    before = len(await read_stream(redis, stream))
    assert before == (5 if dies == "after_publishing" else 0)

    second = make_relay()
    second.start()

    async def delivered() -> bool:
        return second.published == 5

    await eventually(delivered)
    assert await outbox_rows(empty_outbox) == []
    # after_publishing: at least once, the batch is on the stream twice, in order both times
    assert _orgs(await read_stream(redis, stream)) == [str(i) for i in ids] * (2 if before else 1)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer(temp_directory("outbox-redis"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_redis_down_for_a_while_delays_events_but_loses_none(
    empty_outbox: asyncpg.Pool,
    make_relay: RelayFactory,
    private_redis: RedisServer,
    stream: str,
) -> None:
    relay = make_relay(private_redis.url, retry_backoff_max_seconds=0.2)
    relay.start()
    await insert_organizations(empty_outbox, 3)

    async def first_three() -> bool:
        return relay.published == 3

    await eventually(first_three)
    private_redis.kill()
    ids = await insert_organizations(empty_outbox, 20)  # writes keep succeeding
    await asyncio.sleep(1.0)  # several failed rounds
    assert len(await outbox_rows(empty_outbox)) == 20
    assert relay.published == 3

    private_redis.start()  # back, on the same port (empty: nothing persisted)

    async def all_delivered() -> bool:
        return relay.published == 23

    await eventually(all_delivered)
    assert await outbox_rows(empty_outbox) == []
    redis = Redis.from_url(private_redis.url)
    try:
        assert _orgs(await read_stream(redis, stream)) == [str(i) for i in ids]
    finally:
        await redis.aclose()


async def _relay_backends(db: asyncpg.Pool) -> list[int]:
    rows = await db.fetch(
        "SELECT pid FROM pg_stat_activity "
        "WHERE application_name = 'collabcache-outbox-relay' AND datname = current_database()"
    )
    return [r["pid"] for r in rows]


async def test_the_relay_reconnects_and_listens_again_when_its_connection_drops(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    relay = make_relay(poll_interval_seconds=60)  # only a notification can wake it in time
    relay.start()

    async def connected() -> bool:
        return len(await _relay_backends(empty_outbox)) == 1

    await eventually(connected)
    [old_pid] = await _relay_backends(empty_outbox)
    await empty_outbox.execute("SELECT pg_terminate_backend($1)", old_pid)

    async def reconnected() -> bool:
        pids = await _relay_backends(empty_outbox)
        return len(pids) == 1 and pids != [old_pid]

    await eventually(reconnected)
    await asyncio.sleep(0.2)  # LISTEN issued right after connecting
    ids = await insert_organizations(empty_outbox, 2)

    async def delivered() -> bool:
        return relay.published == 2

    await eventually(delivered, within=3.0)
    assert _orgs(await read_stream(redis, stream)) == [str(i) for i in ids]


def _with_jitter(relay: OutboxRelay, monkeypatch: pytest.MonkeyPatch) -> None:
    """Publishing takes 0-20 ms: relays not serialized would overtake each other."""
    real_publish = relay.publisher.publish

    async def slow_publish(rows: Sequence[OutboxRow]) -> None:
        await asyncio.sleep(random.uniform(0, 0.02))
        await real_publish(rows)

    monkeypatch.setattr(relay.publisher, "publish", slow_publish)


async def test_two_relays_publish_a_backlog_once_and_in_order(
    empty_outbox: asyncpg.Pool,
    make_relay: RelayFactory,
    redis: Redis,
    stream: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await insert_organizations(empty_outbox, 200)
    expected = [event for _, event in await outbox_rows(empty_outbox)]
    relays = [make_relay(batch_size=10), make_relay(batch_size=10)]
    for relay in relays:
        _with_jitter(relay, monkeypatch)
        relay.start()

    async def drained() -> bool:
        return sum(r.published for r in relays) == 200

    await eventually(drained)
    await asyncio.sleep(0.3)  # a duplicate would show up now
    assert [m.event for m in await read_stream(redis, stream)] == expected


async def test_two_relays_publish_concurrent_writes_exactly_once(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    relays = [make_relay(batch_size=5), make_relay(batch_size=5)]
    for relay in relays:
        relay.start()
    writers = [insert_organizations(empty_outbox, 50) for _ in range(4)]
    written = [str(oid) for ids in await asyncio.gather(*writers) for oid in ids]

    async def drained() -> bool:
        return sum(r.published for r in relays) == len(written)

    await eventually(drained)
    await asyncio.sleep(0.3)
    published = _orgs(await read_stream(redis, stream))
    assert sorted(published) == sorted(written)  # each one exactly once
    assert await outbox_rows(empty_outbox) == []
