"""Two replicas consuming one stream together: they split it, every event is counted once,
and both serve the same figures (the aggregates live in Redis, not in either process)."""

from __future__ import annotations

from typing import Any

import httpx
from redis.asyncio import Redis

from collabcache_metrics.bootstrap import build
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import CACHE_EVENTS_STREAM
from collabcache_shared.settings import RedisSettings
from tests.integration.metrics.support import (
    FAST,
    assert_figures,
    consumed_by,
    eventually,
    expected_figures,
    group_settled,
    publish_slowly,
    running,
    steady_events,
)

N = 5000
SHARED = ("windows", "top_endpoints", "recent_activity", "invalidation", "streams")


async def stats_of(app: Any) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        response = await client.get("/stats")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_two_replicas_split_the_stream_count_it_exactly_and_agree(
    settings_under: RedisSettings, keyspace: KeySpace, redis: Redis
) -> None:
    stream = keyspace.stream(CACHE_EVENTS_STREAM)
    events = steady_events(N)
    one = build(settings_under, FAST, consumer="replica-one")
    two = build(settings_under, FAST, consumer="replica-two")

    async with running(one) as app_one, running(two) as app_two:
        await publish_slowly(redis, stream, events, chunk=50, pause=0.01)
        await eventually(lambda: group_settled(redis, stream))
        stats = [await stats_of(app_one), await stats_of(app_two)]

    assert consumed_by(one) > 0 and consumed_by(two) > 0  # both took part
    assert consumed_by(one) + consumed_by(two) == N
    assert {k: stats[0][k] for k in SHARED} == {k: stats[1][k] for k in SHARED}
    for name, seconds in (("1m", 60), ("5m", 300), ("1h", 3600)):
        overall = stats[0]["windows"][name]["overall"]
        assert_figures(overall, expected_figures(events, seconds), name)
    assert stats[0]["streams"]["cache_events"] == {"length": N, "lag": 0, "pending": 0}
