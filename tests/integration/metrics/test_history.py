"""/history, the last ten minutes the dashboard draws when it opens (README, "Dashboard"), from
events folded by the real service: each point is the minute ending at its time, every 5 s over
the last four minutes (per-second buckets) and once a minute before (per-minute buckets), from
the first with traffic on, read from the snapshot /stats shares; nothing when nothing happened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from redis.asyncio import Redis

from collabcache_metrics.bootstrap import build
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.clock import now_ms
from collabcache_shared.events import (
    CACHE_EVENTS_STREAM,
    INVALIDATION_EVENTS_STREAM,
    CacheEvent,
    InvalidationApplied,
)
from collabcache_shared.metrics.history import MAX_POINTS
from collabcache_shared.settings import RedisSettings
from tests.integration.metrics.support import (
    FAST,
    eventually,
    exact_percentile,
    group_settled,
    publish,
    running,
    same_bucket,
)

MEMBERS = "/api/organizations/{org_id}/members"
COMMENTS = "/api/collaboration/studies/{study_id}/comments"
ANALYTICS = "/api/organizations/{org_id}/analytics"  # only seven minutes ago: not in the top 5m
SHARED_SNAPSHOT = FAST.model_copy(update={"snapshot_cache_seconds": 60})


def lookups(ago_s: int, endpoint: str, outcomes: str, latency_ms: float) -> list[CacheEvent]:
    """One lookup per letter of `outcomes` (H, M, S, B), `ago_s` seconds ago."""
    names = {"H": "HIT", "M": "MISS", "S": "STALE", "B": "BYPASS"}
    at = now_ms() - ago_s * 1000
    return [
        CacheEvent(
            at_ms=at + i,
            endpoint=endpoint,
            family="F",
            outcome=names[o],
            latency_ms=latency_ms * (1 + i),
            size=100,
        )
        for i, o in enumerate(outcomes)
    ]


def applied(ago_s: int, lags: list[float]) -> list[InvalidationApplied]:
    at = now_ms() - ago_s * 1000
    return [
        InvalidationApplied(at_ms=at, event_type="comment.changed.v1", keys=2, lag_ms=lag)
        for lag in lags
    ]


# Per-second buckets (10 s, 100 s, 200 s ago), a per-minute one (7 min ago), and lookups older
# than the ten minutes (only in /stats' 1h window).
LOOKUPS = [
    (10, MEMBERS, "HHHHHHMS", 0.8),
    (10, COMMENTS, "HHMB", 4.0),
    (100, MEMBERS, "HMMM", 20.0),
    (200, COMMENTS, "HHHHHHHHHH", 1.5),
    (420, ANALYTICS, "SSSMMM", 150.0),
    (800, MEMBERS, "HHHHH", 0.5),
]
INVALIDATIONS = [(30, [5.0, 7.5, 40.0]), (450, [900.0, 1200.0])]


async def get(app: Any, path: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()  # type: ignore[no-any-return]


def epoch_seconds(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def in_minute_ending(at_s: int, events: list[Any]) -> list[Any]:
    return [e for e in events if at_s - 60 < e.at_ms // 1000 <= at_s]


def expected_times(now: int, events: list[Any]) -> list[int]:
    """Every 5 s back to four minutes ago and the ends of the whole minutes before that, from
    the first whose minute holds an event."""
    rolling = list(range(now - 240, now + 1, 5))
    minutes = [60 * m + 59 for m in range((now - 600) // 60, now // 60)]
    times = [t for t in minutes if now - 600 < t < rolling[0]] + rolling
    busy = [t for t in times if in_minute_ending(t, events)]
    return times[times.index(busy[0]) :] if busy else []


async def test_history_has_the_minute_before_each_point_from_the_shared_snapshot(
    settings_under: RedisSettings, keyspace: KeySpace, redis: Redis
) -> None:
    events = [e for spec in LOOKUPS for e in lookups(*spec)]
    invalidations = [i for spec in INVALIDATIONS for i in applied(*spec)]
    cache_stream = keyspace.stream(CACHE_EVENTS_STREAM)
    invalidation_stream = keyspace.stream(INVALIDATION_EVENTS_STREAM)
    await publish(redis, cache_stream, events)
    await publish(redis, invalidation_stream, invalidations)
    service = build(settings_under, SHARED_SNAPSHOT)
    reads = 0
    snapshot = service.reader.snapshot

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await snapshot(*args, **kwargs)

    async def both_settled() -> bool:
        return await group_settled(redis, cache_stream) and await group_settled(
            redis, invalidation_stream
        )

    service.reader.snapshot = counted  # type: ignore[method-assign]
    async with running(service) as app:
        await eventually(both_settled)
        history = await get(app, "/history")
        stats = await get(app, "/stats")
        assert await get(app, "/history") == history

    assert reads == 1  # /history and /stats shared one snapshot: one pipeline, one round trip
    now = epoch_seconds(history["generated_at"])
    assert history["generated_at"] == stats["generated_at"]
    assert (history["span_seconds"], history["point_seconds"]) == (600, 60)
    points = history["points"]
    times = [p["at_ms"] // 1000 for p in points]
    assert times == expected_times(now, events + invalidations)  # oldest first, ending now
    assert points[0]["invalidations"] == 2  # 7.5 minutes ago: the first point with traffic
    assert len(points) <= MAX_POINTS
    charted = {row["endpoint"] for row in stats["top_endpoints"]}
    assert charted == {MEMBERS, COMMENTS}
    for point, at in zip(points, times, strict=True):
        minute = in_minute_ending(at, events)
        served = [e for e in minute if e.outcome in ("HIT", "STALE")]
        assert point["requests"] == len(minute), at - now
        assert point["hit_rate"] == (len(served) / len(minute) if minute else 0.0), at - now
        assert point["requests_per_second"] == round(len(minute) / 60, 3)
        for p in (50, 95, 99):
            exact = exact_percentile([e.latency_ms for e in minute], p)
            assert same_bucket(point["latency_ms"][f"p{p}"], exact), (at - now, p)
        by_endpoint = {ep: sum(e.endpoint == ep for e in minute) for ep in charted}
        assert point["endpoints"] == {ep: round(n / 60, 3) for ep, n in by_endpoint.items() if n}, (
            at - now
        )
        lags = [i.lag_ms for i in in_minute_ending(at, invalidations)]
        assert point["invalidations"] == len(lags), at - now
        for p in (50, 95, 99):
            exact = exact_percentile(lags, p)
            assert same_bucket(point["invalidation_lag_ms"][f"p{p}"], exact), (at - now, p)
    # Each group of lookups shows in the points whose minute holds it, older ones by the minute
    # (the lookups 800 s ago in none); the newest point is /stats' 1m window.
    assert {p["requests"] for p in points} >= {12, 4, 10, 6}
    assert sum(p["requests"] == 6 for p in points) == 1  # 7 minutes ago: one whole minute
    newest, last_minute = points[-1], stats["windows"]["1m"]["overall"]
    assert newest["requests"] == last_minute["requests"] == 12
    assert newest["hit_rate"] == last_minute["hit_rate"]
    assert newest["latency_ms"] == {p: last_minute["latency_ms"][p] for p in ("p50", "p95", "p99")}


async def test_without_traffic_in_the_last_ten_minutes_history_has_no_points(
    settings_under: RedisSettings, keyspace: KeySpace, redis: Redis
) -> None:
    await publish(redis, keyspace.stream(CACHE_EVENTS_STREAM), lookups(900, MEMBERS, "HM", 1.0))
    service = build(settings_under, FAST)
    async with running(service) as app:
        await eventually(lambda: group_settled(redis, keyspace.stream(CACHE_EVENTS_STREAM)))
        history = await get(app, "/history")
        stats = await get(app, "/stats")

    assert history["points"] == []
    assert stats["windows"]["1h"]["overall"]["requests"] == 2  # the lookups are not lost
