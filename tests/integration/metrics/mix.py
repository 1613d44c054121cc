"""The known mix of the exactness tests: cache lookups and invalidations spread over time so
that each window holds a different part of it, and entries that are not valid events."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from collabcache_shared.clock import now_ms
from collabcache_shared.events import CacheEvent, InvalidationApplied

MEMBERS = "/api/organizations/{org_id}/members"
COMMENTS = "/api/collaboration/studies/{study_id}/comments"
ANALYTICS = "/api/organizations/{org_id}/analytics"
FAMILY = {
    MEMBERS: "ORGANIZATION_MEMBERS",
    COMMENTS: "STUDY_COMMENTS",
    ANALYTICS: "ORGANIZATION_ANALYTICS",
}
# How long ago each group of events happened: RECENT is in every window, EARLIER in 5m and
# 1h, OLDER in 1h only, ANCIENT in none (only in the all-time Prometheus counters).
RECENT, EARLIER, OLDER, ANCIENT = 10_000, 120_000, 600_000, 7_200_000


def lookups(
    ago_ms: int, endpoint: str, outcome: str, latencies: list[float], size: int
) -> list[CacheEvent]:
    at = now_ms() - ago_ms
    return [
        CacheEvent(
            at_ms=at + i,
            endpoint=endpoint,
            family=FAMILY[endpoint],
            outcome=outcome,
            latency_ms=latency,
            size=size + i,
        )
        for i, latency in enumerate(latencies)
    ]


def mix() -> dict[int, list[CacheEvent]]:
    recent = [
        *lookups(RECENT, MEMBERS, "HIT", [round(0.4 + 0.05 * i, 3) for i in range(60)], 500),
        *lookups(RECENT, MEMBERS, "MISS", [25 + 2.5 * i for i in range(6)], 500),
        *lookups(RECENT, COMMENTS, "HIT", [round(1.0 + 0.2 * i, 3) for i in range(25)], 2000),
        *lookups(RECENT, COMMENTS, "STALE", [2.5 + 0.5 * i for i in range(4)], 2000),
        *lookups(RECENT, COMMENTS, "MISS", [40.0 + 7 * i for i in range(5)], 2000),
        *lookups(RECENT, COMMENTS, "BYPASS", [12.0 + i for i in range(3)], 2000),
        *lookups(RECENT, ANALYTICS, "MISS", [180.5, 250.25], 9000),
    ]
    random.Random(7).shuffle(recent)
    return {
        ANCIENT: lookups(ANCIENT, MEMBERS, "HIT", [0.9] * 7, 500),
        OLDER: lookups(OLDER, ANALYTICS, "STALE", [150.0 + 3 * i for i in range(40)], 9000),
        EARLIER: [
            *lookups(EARLIER, MEMBERS, "MISS", [30.0 + i for i in range(30)], 500),
            *lookups(EARLIER, COMMENTS, "HIT", [1.5] * 10, 2000),
        ],
        RECENT: recent,
    }


def invalidation_mix() -> dict[int, list[InvalidationApplied]]:
    def applied(ago: int, event_type: str, keys: int, lags: list[float]) -> list[Any]:
        at = now_ms() - ago
        return [
            InvalidationApplied(at_ms=at, event_type=event_type, keys=keys, lag_ms=lag)
            for lag in lags
        ]

    return {
        EARLIER: applied(EARLIER, "study.changed.v1", 4, [800.0 + 100 * i for i in range(5)]),
        RECENT: [
            *applied(RECENT, "membership.changed.v1", 3, [5.0 + 1.7 * i for i in range(8)]),
            *applied(RECENT, "comment.changed.v1", 2, [7.5 + 0.3 * i for i in range(4)]),
        ],
    }


GARBAGE: list[Any] = [
    b"not json",
    {"type": "cache.lookup.v1"},  # fields missing
    {  # a raw path, not a route template: would leak an id into a label
        "type": "cache.lookup.v1",
        "at_ms": 1,
        "endpoint": "/api/organizations/0b6c7a52-3f3e-4f6e-9d55-8a2b2d2f8b11/members",
        "family": "ORGANIZATION_MEMBERS",
        "outcome": "HIT",
        "latency_ms": 1.0,
        "size": 1,
    },
    {  # a negative latency
        "type": "cache.lookup.v1",
        "at_ms": 1,
        "endpoint": MEMBERS,
        "family": "X",
        "outcome": "HIT",
        "latency_ms": -1.0,
        "size": 1,
    },
]


def windows_of(events: dict[int, list[CacheEvent]]) -> dict[str, tuple[int, list[CacheEvent]]]:
    return {
        "1m": (60, events[RECENT]),
        "5m": (300, events[RECENT] + events[EARLIER]),
        "1h": (3600, events[RECENT] + events[EARLIER] + events[OLDER]),
    }


def by_endpoint(events: list[CacheEvent]) -> Iterator[tuple[str, list[CacheEvent]]]:
    for endpoint in sorted({e.endpoint for e in events}):
        yield endpoint, [e for e in events if e.endpoint == endpoint]
