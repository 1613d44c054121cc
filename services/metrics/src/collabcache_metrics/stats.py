"""The JSON documents of /stats (the dashboard's contract, /work/notes/stats_shape.md), /history
(the last ten minutes of it, for the dashboard's first paint: README, "Dashboard") and /report
(the cache performance report against its targets), rendered from a snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collabcache_shared.metrics import histogram
from collabcache_shared.metrics.figures import CacheFigures, WindowFigures
from collabcache_shared.metrics.history import POINT_SECONDS, SPAN_SECONDS, HistoryPoint, history
from collabcache_shared.metrics.reader import Snapshot, StreamState

TOP_ENDPOINTS = 10
RECENT_ACTIVITY = 20
TOP_WINDOW = "5m"
ACTIVITY_FIELDS = ("at_ms", "endpoint", "family", "outcome", "latency_ms")
# The report's targets (README, "Dashboard"): at least 80% of requests answered from the
# cache, and the 95th percentile of those answered from it (HIT or STALE) under 100 ms. 100 ms
# is a histogram boundary, so whether the percentile is under it is decided exactly, not to
# within a bucket.
HIT_RATE_TARGET = 0.80
CACHED_P95_TARGET_MS = 100.0


def _ms(value: float) -> float:
    return round(value, 3)


def iso(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def figures(f: CacheFigures, seconds: int) -> dict[str, Any]:
    return {
        "requests": f.requests,
        "hits": f.hits,
        "misses": f.misses,
        "bypasses": f.bypasses,
        "stale": f.stale,
        "hit_rate": f.hit_rate,
        "miss_rate": f.miss_rate,
        "requests_per_second": f.requests / seconds,
        "latency_ms": {k: _ms(v) for k, v in f.latency_ms().items()},
        "bytes": f.bytes,
    }


def window(w: WindowFigures) -> dict[str, Any]:
    return {
        "overall": figures(w.overall, w.seconds),
        "endpoints": {ep: figures(f, w.seconds) for ep, f in sorted(w.endpoints.items())},
    }


def top_endpoints(w: WindowFigures, limit: int = TOP_ENDPOINTS) -> list[dict[str, Any]]:
    ranked = sorted(w.endpoints.items(), key=lambda item: (-item[1].requests, item[0]))
    return [
        {
            "endpoint": endpoint,
            "requests": f.requests,
            "hit_rate": f.hit_rate,
            "p95_ms": _ms(histogram.percentile(f.latency, 95)),
        }
        for endpoint, f in ranked[:limit]
    ]


def recent_activity(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [
        {name: item.get(name) for name in ACTIVITY_FIELDS}
        for item in snapshot.recent[:RECENT_ACTIVITY]
    ]


def _stream(state: StreamState | None) -> dict[str, Any]:
    if state is None:
        return {"length": 0, "lag": None, "pending": None}
    return {"length": state.length, "lag": state.lag, "pending": state.pending}


def stats_document(snapshot: Snapshot) -> dict[str, Any]:
    invalidations = snapshot.invalidations
    rate, lag = invalidations["1m"], invalidations["5m"]
    return {
        "generated_at": iso(snapshot.now_ms),
        "windows": {name: window(w) for name, w in snapshot.windows.items()},
        "top_endpoints": top_endpoints(snapshot.windows[TOP_WINDOW]),
        "recent_activity": recent_activity(snapshot),
        "invalidation": {
            "per_second": rate.per_second,
            "count_1m": rate.count,
            "lag_ms": {k: _ms(v) for k, v in lag.lag_ms().items()},
        },
        "redis": snapshot.server,
        "streams": {
            name: _stream(snapshot.streams.get(name)) for name in ("cache_events", "domain_events")
        },
    }


def _percentiles(values: dict[str, float]) -> dict[str, float]:
    return {p: _ms(values[p]) for p in ("p50", "p95", "p99")}


def history_point(point: HistoryPoint, endpoints: list[str]) -> dict[str, Any]:
    """The minute ending at `at_ms` (its last second), as /stats' 1m window had it; the requests
    per second of the `endpoints` that had any; the invalidations of that minute and their lag
    (/stats gives the lag over the last five minutes)."""
    f, invalidations = point.cache, point.invalidations
    per_endpoint = point.endpoint_requests
    return {
        "at_ms": point.at_s * 1000,
        "requests": f.requests,
        "hit_rate": f.hit_rate,
        "requests_per_second": round(f.requests / POINT_SECONDS, 3),
        "latency_ms": _percentiles(f.latency_ms()),
        "endpoints": {
            ep: round(per_endpoint[ep] / POINT_SECONDS, 3) for ep in endpoints if ep in per_endpoint
        },
        "invalidations": invalidations.count,
        "invalidation_lag_ms": _percentiles(invalidations.lag_ms()),
    }


def history_document(snapshot: Snapshot) -> dict[str, Any]:
    """The last `SPAN_SECONDS`, oldest first: a point every 5 s over the last four minutes,
    one per minute before (`collabcache_shared.metrics.history`), from the first with traffic
    on; none when nothing happened. The endpoints are those of /stats' top list, the ones the
    dashboard charts."""
    points = history(snapshot.buckets) if snapshot.buckets is not None else []
    endpoints = [row["endpoint"] for row in top_endpoints(snapshot.windows[TOP_WINDOW])]
    return {
        "generated_at": iso(snapshot.now_ms),
        "span_seconds": SPAN_SECONDS,
        "point_seconds": POINT_SECONDS,
        "points": [history_point(point, endpoints) for point in points],
    }


def _target(target: float, actual: float, met: bool) -> dict[str, Any]:
    return {"target": target, "actual": actual, "met": met}


def performance_report(snapshot: Snapshot, window_name: str) -> dict[str, Any]:
    """The CachePerformanceReport of one window. A target with no request to judge it by is
    not met."""
    overall = snapshot.windows[window_name].overall
    cached = overall.cached_latency
    cached_requests = histogram.total(cached)
    p95 = _ms(histogram.percentile(cached, 95))
    hit_rate = _target(
        HIT_RATE_TARGET,
        overall.hit_rate,
        overall.requests > 0 and overall.hit_rate >= HIT_RATE_TARGET,
    )
    latency = _target(CACHED_P95_TARGET_MS, p95, cached_requests > 0 and p95 < CACHED_P95_TARGET_MS)
    return {
        "window": window_name,
        "generated_at": iso(snapshot.now_ms),
        "requests": overall.requests,
        "cached_requests": cached_requests,
        "hit_rate": hit_rate,
        "cached_p95_ms": latency,
        "met": hit_rate["met"] and latency["met"],
    }
