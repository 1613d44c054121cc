"""The admin's cache metrics, read from the shared aggregate store (never from the metrics
service itself: services do not call one another)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis
from collabcache_shared.metrics import histogram
from collabcache_shared.metrics.figures import CacheFigures
from collabcache_shared.metrics.reader import WINDOW_SECONDS, AggregateReader, Snapshot
from collabcache_shared.settings import RedisSettings

from .schemas import (
    CacheActivity,
    CacheMetrics,
    CachePerformance,
    LatencyFigures,
    RedisFigures,
    TopEndpoint,
)

WINDOW = "5m"
TOP_ENDPOINTS = 10
RECENT_ACTIVITY = 20
READ_TIMEOUT_SECONDS = 2.0


def _performance(f: CacheFigures) -> CachePerformance:
    return CachePerformance(
        window=WINDOW,
        requests=f.requests,
        hits=f.hits,
        misses=f.misses,
        bypasses=f.bypasses,
        stale=f.stale,
        hit_rate=f.hit_rate,
        miss_rate=f.miss_rate,
        requests_per_second=f.requests / WINDOW_SECONDS[WINDOW],
        latency_ms=LatencyFigures(**{k: round(v, 3) for k, v in f.latency_ms().items()}),
        bytes=f.bytes,
    )


def _activity(item: dict[str, Any]) -> CacheActivity | None:
    try:
        return CacheActivity.model_validate(item)
    except ValueError:
        return None


def cache_metrics_of(snapshot: Snapshot) -> CacheMetrics:
    window = snapshot.windows[WINDOW]
    ranked = sorted(window.endpoints.items(), key=lambda item: (-item[1].requests, item[0]))
    server = snapshot.server
    activity = [_activity(item) for item in snapshot.recent[:RECENT_ACTIVITY]]
    return CacheMetrics(
        performance=_performance(window.overall),
        redis=RedisFigures(
            memory=server["used_memory"],
            connected_clients=server["connected_clients"],
            commands_processed=server["commands_processed"],
            uptime=server["uptime_seconds"],
        ),
        top_endpoints=[
            TopEndpoint(
                endpoint=endpoint,
                requests=f.requests,
                hit_rate=f.hit_rate,
                p95_ms=round(histogram.percentile(f.latency, 95), 3),
            )
            for endpoint, f in ranked[:TOP_ENDPOINTS]
        ],
        recent_activity=[a for a in activity if a is not None],
    )


@asynccontextmanager
async def reading_client(settings: RedisSettings) -> AsyncIterator[AnyRedis]:
    """A client of its own for the read: the aggregates of a busy five minutes take tens of
    milliseconds to arrive, longer than the request path's Redis timeout allows."""
    timeout = max(settings.socket_timeout, READ_TIMEOUT_SECONDS)
    redis = make_redis(
        settings.model_copy(update={"socket_timeout": timeout, "max_connections": 2})
    )
    try:
        yield redis
    finally:
        await redis.aclose()


async def read_cache_metrics(settings: RedisSettings, keyspace: KeySpace) -> CacheMetrics:
    """Raises what the Redis client raises when Redis cannot be reached."""
    async with reading_client(settings) as redis:
        snapshot = await AggregateReader(redis, keyspace).snapshot(
            windows=(WINDOW,), invalidations=False
        )
    return cache_metrics_of(snapshot)
