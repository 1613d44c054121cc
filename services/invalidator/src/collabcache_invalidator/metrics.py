"""The invalidator's Prometheus metrics, in a registry of its own (one per application)."""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from collabcache_shared.events import DomainEvent
from collabcache_shared.streams.group import GroupState

CONTENT_TYPE = CONTENT_TYPE_LATEST
# From a few milliseconds (the usual case) to the claim idle time and beyond (a recovery).
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class InvalidatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "invalidator_events_processed", "Domain events applied, by type", ["type"], registry=r
        )
        self.keys = Counter(
            "invalidator_keys_invalidated", "Cache entries dropped or marked stale", registry=r
        )
        self.failures = Counter(
            "invalidator_failures", "Deliveries whose handling failed (left pending)", registry=r
        )
        self.dead_lettered = Counter(
            "invalidator_dead_lettered",
            "Entries moved to the dead-letter stream, by reason",
            ["reason"],
            registry=r,
        )
        self.claimed = Counter(
            "invalidator_claimed", "Pending entries taken over from idle consumers", registry=r
        )
        self.group_lag = Gauge(
            "invalidator_consumer_group_lag",
            "Stream entries not yet delivered to the group (XINFO GROUPS lag)",
            registry=r,
        )
        self.group_pending = Gauge(
            "invalidator_consumer_group_pending",
            "Entries delivered to the group and not yet acknowledged",
            registry=r,
        )
        self.lag = Histogram(
            "invalidator_invalidation_lag_seconds",
            "From the change (event.occurred_at) to its cache entries being invalidated",
            buckets=LAG_BUCKETS,
            registry=r,
        )

    def applied_batch(self, applied: Sequence[tuple[DomainEvent, int]], now: float) -> None:
        """Events applied at `now`, each with its entry count (one counter update a type)."""
        for event_type, count in collections.Counter(e.type for e, _ in applied).items():
            self.events.labels(type=event_type).inc(count)
        self.keys.inc(sum(keys for _, keys in applied))
        for event, _ in applied:
            self.lag.observe(max(0.0, now - event.occurred_at.timestamp()))

    def observe_group(self, state: GroupState | None) -> None:
        """The group's backlog; unknown (NaN) when Redis could not be asked."""
        if state is None:
            self.group_lag.set(math.nan)
            self.group_pending.set(math.nan)
            return
        self.group_lag.set(math.nan if state.lag is None else state.lag)
        self.group_pending.set(state.pending)

    def render(self) -> bytes:
        return generate_latest(self.registry)
