"""Helpers of the metrics service's integration tests: events with known figures, publishing
them as the API and the invalidator do, running the service, and the expected figures computed
straight from the events (no histogram: exact values, compared to within a bucket)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from faststream import TestApp
from redis.asyncio import Redis

from collabcache_metrics.bootstrap import MetricsService
from collabcache_metrics.main import app_of
from collabcache_shared.cache.reporting import DATA_FIELD
from collabcache_shared.clock import now_ms
from collabcache_shared.events import METRICS_GROUP, CacheEvent, InvalidationApplied
from collabcache_shared.metrics.histogram import bucket_of
from collabcache_shared.settings import MetricsSettings

# Claims within half a second instead of thirty; every request reads Redis afresh.
FAST = MetricsSettings(
    claim_idle_ms=500, claim_interval_seconds=0.1, snapshot_cache_seconds=0, batch_size=100
)
CACHED = {"HIT", "STALE"}


async def publish(redis: Redis, stream: str, events: Sequence[Any], chunk: int = 500) -> None:
    """XADD each event as `{"__data__": <JSON>}` (as the API's sink and the invalidator do);
    a dict or bytes is sent as the raw field value (an entry that is not a valid event)."""
    for start in range(0, len(events), chunk):
        pipe = redis.pipeline(transaction=False)
        for event in events[start : start + chunk]:
            if isinstance(event, CacheEvent | InvalidationApplied):
                data: bytes = orjson.dumps(event.model_dump())
            elif isinstance(event, bytes):
                data = event
            else:
                data = orjson.dumps(event)
            pipe.xadd(stream, {DATA_FIELD: data})
        await pipe.execute()


@asynccontextmanager
async def running(service: MetricsService) -> AsyncIterator[Any]:
    """The service's whole lifecycle (hooks, broker, stream worker), started and stopped."""
    app = app_of(service)
    async with TestApp(app):
        yield app


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {within}s: {check.__qualname__}")
        await asyncio.sleep(0.02)


async def group_settled(redis: Redis, stream: str, group: str = METRICS_GROUP) -> bool:
    """Every entry delivered to the group and acknowledged."""
    for info in await redis.xinfo_groups(stream):
        if info["name"].decode() == group:
            return (info["lag"], info["pending"]) == (0, 0)
    return False


def exact_percentile(values: Iterable[float], percent: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(percent * len(ordered) / 100 - 1e-9))
    return ordered[rank - 1]


def same_bucket(reported: float, exact: float) -> bool:
    """A percentile read off the histogram names the bucket the exact value is in (an empty
    set gives 0.0 both ways)."""
    if exact == 0.0:
        return reported == 0.0
    return bucket_of(reported) == bucket_of(exact)


def expected_figures(events: Sequence[CacheEvent], seconds: int) -> dict[str, Any]:
    """The /stats figures of a set of events, computed directly (percentiles exact)."""
    n = len(events)
    count = {o: sum(e.outcome == o for e in events) for o in ("HIT", "MISS", "BYPASS", "STALE")}
    latencies = [e.latency_ms for e in events]
    return {
        "requests": n,
        "hits": count["HIT"],
        "misses": count["MISS"],
        "bypasses": count["BYPASS"],
        "stale": count["STALE"],
        "hit_rate": (count["HIT"] + count["STALE"]) / n if n else 0.0,
        "miss_rate": count["MISS"] / n if n else 0.0,
        "requests_per_second": n / seconds,
        "latency_ms": {
            "mean": sum(latencies) / n if n else 0.0,
            "p50": exact_percentile(latencies, 50),
            "p95": exact_percentile(latencies, 95),
            "p99": exact_percentile(latencies, 99),
        },
        "bytes": sum(e.size for e in events),
    }


def assert_figures(reported: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    """Counts, rates and bytes exactly; the mean to the microsecond it is rounded to; the
    percentiles to within their bucket."""
    exact_fields = ("requests", "hits", "misses", "bypasses", "stale", "bytes")
    assert {k: reported[k] for k in exact_fields} == {k: expected[k] for k in exact_fields}, where
    for rate in ("hit_rate", "miss_rate", "requests_per_second"):
        assert math.isclose(reported[rate], expected[rate], rel_tol=1e-12), (where, rate)
    latency, want = reported["latency_ms"], expected["latency_ms"]
    assert abs(latency["mean"] - want["mean"]) <= 0.0005 + 1e-9, (where, latency, want)
    for p in ("p50", "p95", "p99"):
        assert same_bucket(latency[p], want[p]), (where, p, latency[p], want[p])


def steady_events(n: int, ago_ms: int = 5_000) -> list[CacheEvent]:
    """`n` lookups a few seconds old over four endpoints and every outcome, with varied
    latencies and sizes (deterministic)."""
    endpoints = [
        "/api/organizations/{org_id}/members",
        "/api/organizations/{org_id}/teams",
        "/api/collaboration/studies/{study_id}/comments",
        "/api/me/organizations",
    ]
    outcomes = ["HIT", "HIT", "HIT", "MISS", "STALE", "HIT", "BYPASS"]
    at = now_ms() - ago_ms
    return [
        CacheEvent(
            at_ms=at + i % 1000,
            endpoint=endpoints[i % len(endpoints)],
            family="F",
            outcome=outcomes[i % len(outcomes)],
            latency_ms=round(0.2 + (i * 7919 % 5000) / 37, 3),
            size=100 + i % 977,
        )
        for i in range(n)
    ]


async def publish_slowly(
    redis: Redis, stream: str, events: Sequence[Any], chunk: int, pause: float
) -> None:
    """Publish `chunk` events at a time with a pause between: a stream that keeps flowing."""
    for start in range(0, len(events), chunk):
        await publish(redis, stream, events[start : start + chunk])
        await asyncio.sleep(pause)


def consumed_by(service: MetricsService, stream: str = "cache_events") -> float:
    value = service.registry.get_sample_value(
        "collabcache_metrics_events_consumed_total", {"stream": stream}
    )
    return value or 0.0


def failed_batches_of(service: MetricsService, stream: str = "cache_events") -> float:
    """Batches the service read and left pending (a failed transaction or a passed deadline)."""
    value = service.registry.get_sample_value(
        "collabcache_metrics_failed_batches_total", {"stream": stream}
    )
    return value or 0.0


def claimed_by(service: MetricsService, stream: str = "cache_events") -> float:
    value = service.registry.get_sample_value(
        "collabcache_metrics_claimed_total", {"stream": stream}
    )
    return value or 0.0
