"""The outbox relay publishes every committed change to the domain-events stream, in order,
as the DomainEvent the outbox row holds, and deletes the row."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from faststream.redis import RedisBroker, RedisStreamMessage, StreamSub
from redis.asyncio import Redis

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import DOMAIN_EVENTS_STREAM, DomainEvent, OrganizationChanged
from tests.integration.builders import Builder
from tests.integration.outbox.conftest import (
    RelayFactory,
    eventually,
    insert_organizations,
    outbox_rows,
    read_newest,
    read_stream,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def organization_change(event: DomainEvent) -> OrganizationChanged:
    assert isinstance(event.payload, OrganizationChanged), event.type
    return event.payload


async def test_a_committed_change_is_published_as_its_outbox_event_and_the_row_deleted(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    [org_id] = await insert_organizations(empty_outbox, 1)
    [(_, event)] = await outbox_rows(empty_outbox)
    assert event["payload"] == {
        "type": "organization.changed.v1",
        "organization_id": str(org_id),
        "change": "created",
        "member_ids": [],
    }
    relay = make_relay()
    relay.start()

    async def committed() -> bool:
        return relay.published == 1  # counted once the round has committed

    await eventually(committed)
    [message] = await read_stream(redis, stream)
    assert message.event == event
    assert (
        organization_change(DomainEvent.model_validate_json(message.body)).organization_id == org_id
    )
    assert message.headers["content-type"] == "application/json"
    assert message.headers["correlation_id"] == event["id"]
    assert "traceparent" not in message.headers  # the change had no trace context
    assert await outbox_rows(empty_outbox) == []


async def test_the_trace_context_travels_in_the_event_and_as_a_header(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    await insert_organizations(empty_outbox, 1, traceparent=TRACEPARENT)
    make_relay().start()

    async def published() -> bool:
        return len(await read_stream(redis, stream)) == 1

    await eventually(published)
    [message] = await read_stream(redis, stream)
    assert message.headers["traceparent"] == TRACEPARENT
    assert DomainEvent.model_validate_json(message.body).traceparent == TRACEPARENT


async def test_a_faststream_stream_subscriber_receives_domain_events_with_their_headers(
    empty_outbox: asyncpg.Pool,
    make_relay: RelayFactory,
    servers: dict[str, str],
    stream: str,
) -> None:
    """What the invalidator does: a consumer group on the stream, DomainEvent bodies."""
    received: list[tuple[DomainEvent, dict[str, str]]] = []
    broker = RedisBroker(servers["redis"])

    @broker.subscriber(stream=StreamSub(stream, group="invalidator", consumer="test"))
    async def handle(event: DomainEvent, message: RedisStreamMessage) -> None:
        received.append((event, message.headers))

    await broker.start()
    try:
        plain = await insert_organizations(empty_outbox, 1)
        traced = await insert_organizations(empty_outbox, 1, traceparent=TRACEPARENT)
        make_relay().start()

        async def both_received() -> bool:
            return len(received) == 2

        await eventually(both_received)
    finally:
        await broker.stop()
    assert [organization_change(e).organization_id for e, _ in received] == plain + traced
    assert [h.get("traceparent") for _, h in received] == [None, TRACEPARENT]
    assert [e.traceparent for e, _ in received] == [None, TRACEPARENT]


async def test_a_burst_is_published_in_outbox_order_across_many_batches(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    backlog = await insert_organizations(empty_outbox, 60)  # waiting before the relay starts
    expected = [event for _, event in await outbox_rows(empty_outbox)]
    relay = make_relay(batch_size=7)
    relay.start()
    live = await insert_organizations(empty_outbox, 60)  # committed while the relay runs

    async def all_published() -> bool:
        return relay.published == 120

    await eventually(all_published)
    messages = await read_stream(redis, stream)
    assert [m.event for m in messages[:60]] == expected
    published_orgs = [m.event["payload"]["organization_id"] for m in messages]
    assert published_orgs == [str(o) for o in backlog + live]
    assert await outbox_rows(empty_outbox) == []


async def test_a_notification_wakes_the_relay_long_before_its_poll(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    relay = make_relay(poll_interval_seconds=60)
    relay.start()
    await asyncio.sleep(0.3)  # connected, caught up (nothing), listening
    await insert_organizations(empty_outbox, 1)

    async def published() -> bool:
        return len(await read_stream(redis, stream)) == 1

    await eventually(published, within=2.0)


async def test_the_poll_publishes_a_row_whose_notification_never_came(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    relay = make_relay(poll_interval_seconds=0.2)
    relay.start()
    await asyncio.sleep(0.3)
    event = DomainEvent.model_validate(
        {
            "payload": {
                "type": "team.changed.v1",
                "organization_id": "8a4c6d7e-0000-4000-8000-000000000001",
                "team_id": "8a4c6d7e-0000-4000-8000-000000000002",
                "change": "renamed",
            }
        }
    )
    # Inserted by hand, without pg_notify: only the poll can find it.
    await empty_outbox.execute(
        "INSERT INTO outbox (event) VALUES ($1::jsonb)", event.model_dump_json()
    )

    async def published() -> bool:
        return len(await read_stream(redis, stream)) == 1

    await eventually(published, within=3.0)
    [message] = await read_stream(redis, stream)
    assert DomainEvent.model_validate_json(message.body) == event


async def test_the_stream_is_trimmed_to_about_its_maxlen(
    empty_outbox: asyncpg.Pool, make_relay: RelayFactory, redis: Redis, stream: str
) -> None:
    await empty_outbox.execute(
        "INSERT INTO organizations (id, name) "
        "SELECT gen_random_uuid(), 'org ' || n FROM generate_series(1, 1000) AS n"
    )
    last_event = (await outbox_rows(empty_outbox))[-1][1]
    relay = make_relay(stream_maxlen=100)
    relay.start()

    async def all_published() -> bool:
        return relay.published == 1000

    await eventually(all_published)
    length = await redis.xlen(stream)
    assert 100 <= length < 1000  # MAXLEN ~: whole nodes are trimmed, the newest entries stay
    assert (await read_stream(redis, stream))[-1].event == last_event


async def test_a_write_through_the_api_reaches_the_stream_through_the_apps_relay(
    client: httpx.AsyncClient,
    build: Builder,
    db: asyncpg.Pool,
    redis: Redis,
    app_keyspace: KeySpace,
) -> None:
    scene = await build.scene()
    response = await client.patch(
        f"/api/organizations/{scene.org_id}", json={"name": "Renamed"}, headers=scene.owner.headers
    )
    assert response.status_code == 200, response.text
    app_stream = app_keyspace.stream(DOMAIN_EVENTS_STREAM)

    async def renamed() -> list[DomainEvent]:
        messages = await read_newest(redis, app_stream, 500)
        events = [DomainEvent.model_validate_json(m.body) for m in messages]
        return [
            e
            for e in events
            if isinstance(e.payload, OrganizationChanged)
            and e.payload.organization_id == scene.org_id
            and e.payload.change == "renamed"
        ]

    async def published() -> bool:
        return len(await renamed()) == 1

    await eventually(published)
    [event] = await renamed()
    members = organization_change(event).member_ids
    assert set(members) >= {scene.owner.id, scene.admin.id, scene.member.id}
    left = await db.fetchval("SELECT count(*) FROM outbox WHERE event->>'id' = $1", str(event.id))
    assert left == 0
