"""The service's own Prometheus metrics (this process), in the application's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter(
            "collabcache_metrics_events_consumed",
            "Events folded into the aggregates by this process, by stream",
            ["stream"],
            registry=registry,
        )
        self.rejected = Counter(
            "collabcache_metrics_events_rejected",
            "Stream entries that were not valid events (acknowledged, not counted), by stream",
            ["stream"],
            registry=registry,
        )
        self.failed_batches = Counter(
            "collabcache_metrics_failed_batches",
            "Batches whose transaction failed (left pending for a claim), by stream",
            ["stream"],
            registry=registry,
        )
        self.claimed = Counter(
            "collabcache_metrics_claimed",
            "Pending entries taken over from idle consumers, by stream",
            ["stream"],
            registry=registry,
        )
