"""Every cache lookup becomes a cache event on a bounded stream, off the request path."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.reporting import DATA_FIELD, CacheEventSink
from collabcache_shared.events import CACHE_EVENTS_STREAM, CacheEvent
from tests.integration.builders import Builder
from tests.integration.streams import entries, newest


async def _events_for(
    redis: Redis, stream: str, endpoint: str, after: str = "-"
) -> list[CacheEvent]:
    read = await entries(redis, stream, after=after)
    events = [CacheEvent.model_validate_json(fields[DATA_FIELD.encode()]) for _, fields in read]
    return [e for e in events if e.endpoint == endpoint]


async def test_each_lookup_is_reported_with_route_template_and_outcome(
    client: httpx.AsyncClient, build: Builder, redis: Redis, app_keyspace: KeySpace
) -> None:
    s = await build.scene()
    stream = app_keyspace.stream(CACHE_EVENTS_STREAM)
    await asyncio.sleep(0.3)  # let earlier tests' events be flushed
    last = await newest(redis, stream, 1)
    after = f"({last[0][0].decode()}" if last else "-"  # exclusive: only this test's events
    path = f"/api/organizations/{s.org_id}/members"
    first = await client.get(path, headers=s.owner.headers)
    second = await client.get(path, headers=s.member.headers)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    template = "/api/organizations/{org_id}/members"
    for _ in range(50):  # the sink flushes every 0.2 s
        events = await _events_for(redis, stream, template, after)
        if len(events) >= 2:
            break
        await asyncio.sleep(0.05)
    assert [e.outcome for e in events] == ["MISS", "HIT"]
    assert all(e.family == "ORGANIZATION_MEMBERS" for e in events)
    assert events[-1].size == len(second.content)
    assert all(e.latency_ms > 0 for e in events)
    assert str(s.org_id) not in "".join(e.endpoint for e in events)  # no raw ids


async def test_a_full_buffer_drops_instead_of_blocking() -> None:
    sink = CacheEventSink(Redis.from_url("redis://127.0.0.1:1/0"), "s", buffer=100)
    for _ in range(150):
        sink.record("/x", "F", "HIT", 1.0, 10)
    assert sink.dropped == 50


@pytest.mark.timeout(10)
async def test_redis_down_drops_the_batch_without_raising() -> None:
    sink = CacheEventSink(
        Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05),
        "s",
        timeout_seconds=0.2,
    )
    sink.record("/x", "F", "HIT", 1.0, 10)
    assert await sink.flush() == 0
    assert (sink.dropped, sink.sent) == (1, 0)


def test_event_schema_round_trips() -> None:
    raw = orjson.dumps(
        {
            "type": "cache.lookup.v1",
            "at_ms": 1,
            "endpoint": "/a",
            "family": "F",
            "outcome": "STALE",
            "latency_ms": 0.5,
            "size": 3,
        }
    )
    assert CacheEvent.model_validate_json(raw).outcome == "STALE"
