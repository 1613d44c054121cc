"""The API's `GET /api/admin/cache-metrics`: the figures of the shared aggregate store (the
ones the metrics service folds), for platform admins only, never cached; a clear 503 when
Redis cannot be read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from collabcache_api.main import create_app
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.clock import now_ms
from collabcache_shared.events import CACHE_EVENTS_STREAM, METRICS_GROUP, CacheEvent
from collabcache_shared.metrics.fold import fold_cache_events
from collabcache_shared.metrics.layout import AggregateKeys
from collabcache_shared.metrics.writer import AggregateWriter
from collabcache_shared.settings import ApiSettings, OutboxSettings, RedisSettings
from tests.integration.builders import Builder
from tests.integration.metrics.support import (
    exact_percentile,
    expected_figures,
    same_bucket,
)

PATH = "/api/admin/cache-metrics"
ANALYTICS = "/api/organizations/{org_id}/analytics"
MEMBERS = "/api/organizations/{org_id}/members"


def events() -> list[CacheEvent]:
    at = now_ms() - 20_000  # inside the 5 minute window
    made = []
    for i in range(40):
        endpoint = MEMBERS if i % 4 else ANALYTICS
        outcome = "HIT" if i % 5 else "MISS"
        made.append(
            CacheEvent(
                at_ms=at + i,
                endpoint=endpoint,
                family="ORGANIZATION_MEMBERS" if endpoint == MEMBERS else "ORGANIZATION_ANALYTICS",
                outcome=outcome,
                latency_ms=round(0.3 + i * 1.37, 3),
                size=1000 + i,
            )
        )
    made.append(made[0].model_copy(update={"at_ms": at - 900_000}))  # outside 5m: not counted
    return made


@pytest.fixture
async def aggregated(redis: Redis, app_keyspace: KeySpace) -> AsyncIterator[list[CacheEvent]]:
    """Known events folded into the aggregates under the API's key prefix (replacing whatever
    earlier tests left there, removed afterwards), as the metrics service would have."""
    keys = AggregateKeys.of(app_keyspace, CACHE_EVENTS_STREAM)
    old = [k async for k in redis.scan_iter(match=f"{keys.base}:*", count=1000)]
    if old:
        await redis.delete(*old)
    made = events()
    fold = fold_cache_events(made, keys, now_ms() // 1000)
    await AggregateWriter(redis, keys, METRICS_GROUP).apply(fold, [])
    yield made
    written = [k async for k in redis.scan_iter(match=f"{keys.base}:*", count=1000)]
    if written:
        await redis.delete(*written)


async def test_a_platform_admin_gets_the_5_minute_figures_of_the_aggregates(
    client: httpx.AsyncClient, build: Builder, aggregated: list[CacheEvent]
) -> None:
    s = await build.scene()
    counted = aggregated[:-1]

    response = await client.get(PATH, headers=s.platform_admin.headers)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "x-cache" not in response.headers
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"performance", "redis", "topEndpoints", "recentActivity"}
    expected = expected_figures(counted, 300)
    performance = data["performance"]
    assert performance["window"] == "5m"
    assert {
        k: performance[k] for k in ("requests", "hits", "misses", "bypasses", "stale", "bytes")
    } == {k: expected[k] for k in ("requests", "hits", "misses", "bypasses", "stale", "bytes")}
    assert performance["hitRate"] == expected["hit_rate"]
    assert performance["missRate"] == expected["miss_rate"]
    assert performance["requestsPerSecond"] == expected["requests_per_second"]
    assert abs(performance["latencyMs"]["mean"] - expected["latency_ms"]["mean"]) <= 0.0005
    for p in ("p50", "p95", "p99"):
        assert same_bucket(performance["latencyMs"][p], expected["latency_ms"][p]), p

    assert [(t["endpoint"], t["requests"]) for t in data["topEndpoints"]] == [
        (MEMBERS, 30),
        (ANALYTICS, 10),
    ]
    analytics = [e for e in counted if e.endpoint == ANALYTICS]
    top_analytics = data["topEndpoints"][1]
    assert top_analytics["hitRate"] == expected_figures(analytics, 300)["hit_rate"]
    assert same_bucket(
        top_analytics["p95Ms"], exact_percentile([e.latency_ms for e in analytics], 95)
    )

    newest_first = list(reversed(aggregated))[:20]
    assert data["recentActivity"] == [
        {
            "atMs": e.at_ms,
            "endpoint": e.endpoint,
            "family": e.family,
            "outcome": e.outcome,
            "latencyMs": e.latency_ms,
        }
        for e in newest_first
    ]
    assert set(data["redis"]) == {"memory", "connectedClients", "commandsProcessed", "uptime"}
    assert all(isinstance(v, int) and v > 0 for v in data["redis"].values())


async def test_only_platform_admins_may_see_the_cache_metrics(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()

    assert (await client.get(PATH)).status_code == 401
    for person in (s.owner, s.admin, s.member, s.outsider):
        response = await client.get(PATH, headers=person.headers)
        assert response.status_code == 403
        assert response.json() == {"detail": "Platform administrators only"}


async def test_redis_unavailable_is_a_503_with_a_clear_message(
    api_settings: ApiSettings, build: Builder
) -> None:
    s = await build.scene()
    unreachable = RedisSettings(
        url="redis://127.0.0.1:1/0", socket_connect_timeout=0.05, retry_attempts=0
    )
    app = create_app(api_settings, unreachable, outbox_settings=OutboxSettings(relay_enabled=False))

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
            response = await api.get(PATH, headers=s.platform_admin.headers)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "cache metrics are unavailable" in response.json()["detail"]
