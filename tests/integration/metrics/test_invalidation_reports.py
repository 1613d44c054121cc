"""The invalidator reports each domain event it applied (`InvalidationApplied`) on the
invalidations stream, with the acknowledgement's round trip; the metrics service folds them
into the invalidation figures. A report that cannot be sent never fails an invalidation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from faststream.redis import RedisBroker
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from collabcache_invalidator.bootstrap import build as build_invalidator
from collabcache_metrics.bootstrap import build as build_metrics
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.reporting import DATA_FIELD
from collabcache_shared.events import (
    INVALIDATION_EVENTS_STREAM,
    CommentChanged,
    DomainEvent,
    InvalidationApplied,
    MembershipChanged,
)
from collabcache_shared.settings import InvalidatorSettings, RedisSettings
from tests.integration.invalidator.support import publish as relay_publish
from tests.integration.invalidator.support import running as running_invalidator
from tests.integration.metrics.support import FAST, eventually, group_settled, running
from tests.integration.streams import entries

INVALIDATOR = InvalidatorSettings(claim_idle_ms=1000, claim_interval_seconds=0.1)
AGO = timedelta(seconds=2)


@pytest.fixture
async def relay(servers: dict[str, str]) -> AsyncIterator[RedisBroker]:
    """A publisher as the API's outbox relay has one."""
    broker = RedisBroker(servers["redis"])
    await broker.connect()
    yield broker
    await broker.stop()


def changes(n: int) -> list[DomainEvent]:
    org = uuid.uuid4()
    occurred = datetime.now(UTC) - AGO
    made: list[DomainEvent] = []
    for i in range(n):
        payload: object
        if i % 2:
            payload = MembershipChanged(organization_id=org, user_id=uuid.uuid4(), change="added")
        else:
            payload = CommentChanged(
                organization_id=org,
                study_id=uuid.uuid4(),
                comment_id=uuid.uuid4(),
                author_id=uuid.uuid4(),
                change="added",
                author_team_ids=[uuid.uuid4()],
            )
        made.append(DomainEvent(occurred_at=occurred, payload=payload))
    return made


async def invalidator_settled(redis: Redis, invalidator: object) -> bool:
    names = invalidator.names  # type: ignore[attr-defined]
    return await group_settled(redis, names.stream, names.group)


async def test_each_applied_event_is_reported_and_aggregated(
    settings_under: RedisSettings, keyspace: KeySpace, redis: Redis, relay: RedisBroker
) -> None:
    events = changes(6)
    invalidator = build_invalidator(settings_under, INVALIDATOR)
    metrics = build_metrics(settings_under, FAST)
    reports = keyspace.stream(INVALIDATION_EVENTS_STREAM)

    async with running_invalidator(invalidator), running(metrics) as app:
        await relay_publish(relay, invalidator.names.stream, events)
        await eventually(lambda: invalidator_settled(redis, invalidator))
        await eventually(lambda: group_settled(redis, reports))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            stats = (await client.get("/stats")).json()
            exposition = (await client.get("/metrics")).text

    sent = [
        InvalidationApplied.model_validate_json(f[DATA_FIELD.encode()])
        for _, f in await entries(redis, reports)
    ]
    assert sorted(r.event_type for r in sent) == sorted(e.type for e in events)
    keys_total = invalidator.metrics.registry.get_sample_value("invalidator_keys_invalidated_total")
    assert sum(r.keys for r in sent) == keys_total
    assert all(AGO.total_seconds() * 1000 <= r.lag_ms < 60_000 for r in sent)
    assert stats["invalidation"]["count_1m"] == len(events)
    assert stats["invalidation"]["per_second"] == len(events) / 60
    assert 2000 <= stats["invalidation"]["lag_ms"]["p50"] < 60_000
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }
    assert found[("collabcache_invalidated_keys_total", ())] == keys_total
    assert found[("collabcache_invalidations_total", (("event_type", "comment.changed.v1"),))] == 3


async def test_a_report_that_cannot_be_sent_never_fails_the_invalidation(
    settings_under: RedisSettings, keyspace: KeySpace, redis: Redis, relay: RedisBroker
) -> None:
    await redis.set(keyspace.stream(INVALIDATION_EVENTS_STREAM), "not a stream")  # XADD fails
    events = changes(3)
    invalidator = build_invalidator(settings_under, INVALIDATOR)

    async with running_invalidator(invalidator):
        await relay_publish(relay, invalidator.names.stream, events)
        await eventually(lambda: invalidator_settled(redis, invalidator))

    sample = invalidator.metrics.registry.get_sample_value
    assert sample("invalidator_events_processed_total", {"type": "comment.changed.v1"}) == 2
    assert sample("invalidator_failures_total") == 0
    assert invalidator.names.dead_letter is not None
    assert await redis.xlen(invalidator.names.dead_letter) == 0
    assert invalidator.reports is not None and invalidator.reports.dropped == len(events)
