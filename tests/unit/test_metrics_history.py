"""The history of the aggregates (`collabcache_shared.metrics.history`) without Redis: buckets
folded from random events, every point compared with the events of its minute."""

from __future__ import annotations

import random
from collections import Counter

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import CacheEvent, InvalidationApplied
from collabcache_shared.metrics.fold import Fold, fold_cache_events, fold_invalidations
from collabcache_shared.metrics.histogram import bucket_of
from collabcache_shared.metrics.history import MAX_POINTS, Buckets, history
from collabcache_shared.metrics.layout import CACHED, ORIGIN, AggregateKeys, served

NOW = 1_700_000_000 + 37  # not on a minute boundary
ENDPOINTS = ["/api/a", "/api/b/{id}", "/api/c"]
OUTCOMES = ["HIT", "HIT", "MISS", "STALE", "BYPASS"]
CACHE = AggregateKeys.of(KeySpace(prefix="t"), "cache")
INVALIDATIONS = AggregateKeys.of(KeySpace(prefix="t"), "invalidations")


def random_events(rng: random.Random, n: int) -> tuple[list[CacheEvent], list[InvalidationApplied]]:
    """Events over the last twelve minutes, in bursts with quiet stretches between them."""
    bursts = sorted(rng.sample(range(NOW - 720, NOW + 1), 10))
    lookups = [
        CacheEvent(
            at_ms=rng.choice(bursts) * 1000 + rng.randrange(1000),
            endpoint=rng.choice(ENDPOINTS),
            family="F",
            outcome=rng.choice(OUTCOMES),
            latency_ms=rng.lognormvariate(0, 1.5),
            size=10,
        )
        for _ in range(n)
    ]
    applied = [
        InvalidationApplied(
            at_ms=rng.choice(bursts) * 1000, event_type="x.changed.v1", keys=1, lag_ms=rng.random()
        )
        for _ in range(n // 10)
    ]
    return lookups, applied


def raw(fold: Fold, key: str) -> dict[bytes, bytes]:
    return {k.encode(): str(v).encode() for k, v in fold.increments.get(key, {}).items() if v}


def buckets_of(lookups: list[CacheEvent], applied: list[InvalidationApplied]) -> Buckets:
    """What a snapshot reads: 300 per-second hashes and 60 per-minute ones of the lookups, as
    many of the invalidations and their last 11 minutes."""
    cache = fold_cache_events(lookups, CACHE, NOW)
    invalidations = fold_invalidations(applied, INVALIDATIONS, NOW)
    seconds, minutes = range(NOW - 299, NOW + 1), range(NOW // 60 - 59, NOW // 60 + 1)
    return Buckets(
        NOW,
        [raw(cache, CACHE.second(s)) for s in seconds],
        [raw(cache, CACHE.minute(m)) for m in minutes],
        [raw(invalidations, INVALIDATIONS.second(s)) for s in seconds],
        [raw(invalidations, INVALIDATIONS.minute(m)) for m in minutes[-11:]],
    )


def test_each_point_is_the_minute_ending_at_it() -> None:
    rng = random.Random(3)
    lookups, applied = random_events(rng, 3000)

    points = history(buckets_of(lookups, applied))

    rolling = list(range(NOW - 240, NOW + 1, 5))
    minutes = [60 * m + 59 for m in range((NOW - 600) // 60, NOW // 60)]
    times = [t for t in minutes if NOW - 600 < t < NOW - 240] + rolling
    seconds = {e.at_ms // 1000 for e in lookups} | {i.at_ms // 1000 for i in applied}
    first = next(t for t in times if any(t - 60 < s <= t for s in seconds))
    assert [p.at_s for p in points] == times[times.index(first) :]  # from the first with traffic
    assert len(points) <= MAX_POINTS
    for point in points:
        minute = [e for e in lookups if point.at_s - 60 < e.at_ms // 1000 <= point.at_s]
        assert point.cache.counts == dict(Counter(e.outcome for e in minute)), point.at_s
        assert point.endpoint_requests == dict(Counter(e.endpoint for e in minute))
        for s in (CACHED, ORIGIN):
            latencies = [bucket_of(e.latency_ms) for e in minute if served(e.outcome) == s]
            assert point.cache.histograms[s] == dict(Counter(latencies)), (point.at_s, s)
        lags = [i for i in applied if point.at_s - 60 < i.at_ms // 1000 <= point.at_s]
        assert point.invalidations.count == len(lags)
        assert point.invalidations.lag == dict(Counter(bucket_of(i.lag_ms) for i in lags))
    assert any(p.cache.requests == 0 for p in points)  # the quiet stretches are points too


def lookup(ago_s: int) -> CacheEvent:
    at_ms = (NOW - ago_s) * 1000
    return CacheEvent(
        at_ms=at_ms, endpoint="/api/a", family="F", outcome="HIT", latency_ms=1, size=1
    )


def test_the_points_start_with_the_first_traffic_and_a_quiet_span_has_none() -> None:
    points = history(buckets_of([lookup(100)], []))

    assert [p.at_s for p in points] == list(range(NOW - 100, NOW + 1, 5))
    assert [p.cache.requests for p in points] == [1] * 12 + [0] * 9
    assert history(buckets_of([lookup(900)], [])) == []
    assert history(Buckets(NOW, [], [])) == []
