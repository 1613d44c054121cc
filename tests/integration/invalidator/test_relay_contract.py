"""The contract between the API's outbox relay and the invalidator: rows published by the
relay's own `StreamPublisher` (a MULTI/EXEC batch of the event JSON as PostgreSQL renders a
jsonb) are read as DomainEvents and applied, with nothing dead-lettered."""

from __future__ import annotations

import json
import uuid

from redis.asyncio import Redis

from collabcache_api.outbox.publisher import StreamPublisher, make_broker
from collabcache_api.outbox.repository import OutboxRow
from collabcache_invalidator.bootstrap import build
from collabcache_shared.settings import OutboxSettings, RedisSettings
from tests.integration.invalidator.support import FAST, TRACEPARENT, eventually, running


def row(n: int, payload: dict[str, object]) -> OutboxRow:
    """An outbox row as the trigger writes it and `event::text` reads it back."""
    event_id = str(uuid.uuid4())
    event = {
        "id": event_id,
        "source": "sql",
        "payload": payload,
        "occurred_at": "2026-11-25T18:00:00.123456+00:00",
        "traceparent": TRACEPARENT,
    }
    return OutboxRow(n, json.dumps(event, separators=(", ", ": ")), event_id, TRACEPARENT)


async def test_rows_published_by_the_relay_are_applied(
    settings_under: RedisSettings, redis: Redis
) -> None:
    org, user, team = (str(uuid.uuid4()) for _ in range(3))
    rows = [
        row(1, {"type": "membership.changed.v1", "organization_id": org, "user_id": user,
                "change": "added", "team_ids": []}),
        row(2, {"type": "team.changed.v1", "organization_id": org, "team_id": team,
                "change": "created"}),
    ]  # fmt: skip
    invalidator = build(settings_under, FAST)
    settings = OutboxSettings()
    publisher = StreamPublisher(
        make_broker(settings_under, settings), invalidator.names.stream, settings
    )
    try:
        await publisher.publish(rows)
    finally:
        await publisher.close()

    async with running(invalidator):

        async def settled() -> bool:
            state = await invalidator.stream.group_state()
            return (state.lag, state.pending) == (0, 0)

        await eventually(settled)

    sample = invalidator.metrics.registry.get_sample_value
    assert sample("invalidator_events_processed_total", {"type": "membership.changed.v1"}) == 1
    assert sample("invalidator_events_processed_total", {"type": "team.changed.v1"}) == 1
    assert invalidator.names.dead_letter is not None
    assert await redis.exists(invalidator.names.dead_letter) == 0
