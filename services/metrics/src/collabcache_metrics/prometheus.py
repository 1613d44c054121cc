"""/metrics from the Redis aggregates: a custom collector turns the latest snapshot into
Prometheus metric families at scrape time, so every replica exposes the same figures.

Counters and histograms come from the all-time totals (they never go down); the hit ratio and
request rate per window are gauges. Labels are route templates and event types only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from collabcache_shared.metrics import histogram
from collabcache_shared.metrics.figures import InvalidationFigures, WindowFigures
from collabcache_shared.metrics.layout import CACHED, ORIGIN
from collabcache_shared.metrics.reader import Snapshot

from .snapshots import Snapshots

LE: list[str] = [floatToGoString(b / 1000) for b in histogram.BOUNDS_MS]  # type: ignore[no-untyped-call]
SERVED = {CACHED: "true", ORIGIN: "false"}
REDIS_GAUGES = {
    "used_memory": ("collabcache_redis_used_memory_bytes", "Redis used_memory"),
    "keys": ("collabcache_redis_keys", "Keys in the Redis database (DBSIZE)"),
    "connected_clients": ("collabcache_redis_connected_clients", "Redis connected clients"),
    "uptime_seconds": ("collabcache_redis_uptime_seconds", "Redis uptime"),
}
REDIS_COUNTERS = {
    "commands_processed": ("collabcache_redis_commands_processed", "Commands Redis processed"),
    "keyspace_hits": ("collabcache_redis_keyspace_hits", "Redis keyspace hits"),
    "keyspace_misses": ("collabcache_redis_keyspace_misses", "Redis keyspace misses"),
    "evicted_keys": ("collabcache_redis_evicted_keys", "Keys Redis evicted"),
    "expired_keys": ("collabcache_redis_expired_keys", "Keys Redis expired"),
}


def _buckets(counts: dict[int, int]) -> list[tuple[str, float]]:
    cumulative, seen = [], 0
    for bucket, le in enumerate(LE):
        seen += counts.get(bucket, 0)
        cumulative.append((le, float(seen)))
    cumulative.append(("+Inf", float(seen + counts.get(histogram.OVERFLOW, 0))))
    return cumulative


def cache_families(totals: WindowFigures) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "collabcache_cache_requests",
        "Cache lookups by endpoint template and outcome",
        labels=["endpoint", "outcome"],
    )
    size = CounterMetricFamily(
        "collabcache_cache_response_bytes", "Response bytes by endpoint", labels=["endpoint"]
    )
    latency = HistogramMetricFamily(
        "collabcache_cache_latency_seconds",
        "Lookup latency by endpoint; cached: answered from the cache (HIT or STALE)",
        labels=["endpoint", "cached"],
    )
    for endpoint, f in sorted(totals.endpoints.items()):
        for outcome, n in sorted(f.counts.items()):
            requests.add_metric([endpoint, outcome], n)
        size.add_metric([endpoint], f.bytes)
        for s, counts in f.histograms.items():
            if counts:
                latency.add_metric(
                    [endpoint, SERVED[s]], _buckets(counts), f.latency_us[s] / 1_000_000
                )
    yield from (requests, size, latency)


def window_families(snapshot: Snapshot) -> Iterator[Metric]:
    ratio = GaugeMetricFamily(
        "collabcache_cache_hit_ratio",
        "Share of lookups answered from the cache (HIT or STALE) over a window",
        labels=["window"],
    )
    rate = GaugeMetricFamily(
        "collabcache_cache_requests_per_second",
        "Lookups per second over a window",
        labels=["window"],
    )
    for name, w in snapshot.windows.items():
        ratio.add_metric([name], w.overall.hit_rate)
        rate.add_metric([name], w.overall.requests / w.seconds)
    yield from (ratio, rate)


def invalidation_families(totals: InvalidationFigures) -> Iterator[Metric]:
    count = CounterMetricFamily(
        "collabcache_invalidations", "Domain events applied by type", labels=["event_type"]
    )
    for event_type, n in sorted(totals.by_type.items()):
        count.add_metric([event_type], n)
    keys = CounterMetricFamily("collabcache_invalidated_keys", "Cache entries invalidated")
    keys.add_metric([], totals.keys)
    lag = HistogramMetricFamily(
        "collabcache_invalidation_lag_seconds", "From a change to its cache invalidation"
    )
    lag.add_metric([], _buckets(totals.lag), totals.lag_us / 1_000_000)
    yield from (count, keys, lag)


def server_families(snapshot: Snapshot) -> Iterator[Metric]:
    for field, (name, doc) in REDIS_GAUGES.items():
        yield GaugeMetricFamily(name, doc, value=snapshot.server.get(field, 0))
    for field, (name, doc) in REDIS_COUNTERS.items():
        yield CounterMetricFamily(name, doc, value=snapshot.server.get(field, 0))
    length = GaugeMetricFamily("collabcache_stream_length", "Stream length", labels=["stream"])
    lag = GaugeMetricFamily(
        "collabcache_stream_group_lag",
        "Entries not yet delivered to the stream's consumer group (NaN: unknown)",
        labels=["stream"],
    )
    pending = GaugeMetricFamily(
        "collabcache_stream_group_pending",
        "Entries delivered to the group, not yet acknowledged (NaN: no group)",
        labels=["stream"],
    )
    for stream, state in sorted(snapshot.streams.items()):
        length.add_metric([stream], state.length)
        lag.add_metric([stream], math.nan if state.lag is None else state.lag)
        pending.add_metric([stream], math.nan if state.pending is None else state.pending)
    yield from (length, lag, pending)


class AggregateCollector(Collector):
    def __init__(self, snapshots: Snapshots) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshots.latest
        up = GaugeMetricFamily(
            "collabcache_metrics_aggregates_up",
            "1 when the aggregates could be read from Redis for this scrape",
            value=0 if snapshot is None else 1,
        )
        yield up
        if snapshot is None:
            return
        if snapshot.totals is not None:
            yield from cache_families(snapshot.totals)
        if snapshot.invalidation_totals is not None:
            yield from invalidation_families(snapshot.invalidation_totals)
        yield from window_families(snapshot)
        yield from server_families(snapshot)

    def describe(self) -> list[Metric]:
        return []  # dynamic: nothing to check at registration
