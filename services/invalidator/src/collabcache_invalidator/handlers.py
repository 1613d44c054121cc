"""What the invalidator does with domain events: plain functions of the events and their
dependencies, so they run the same for read and claimed batches and in a test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.cache.store import Certificates
from collabcache_shared.events import DomainEvent
from collabcache_shared.invalidation import certificates_of, keys_for

from .metrics import InvalidatorMetrics

log = logging.getLogger("collabcache_invalidator")


class Invalidates(Protocol):
    """The part of `EntryStore` a handler needs."""

    async def invalidate(
        self, keys: Iterable[CacheKey], now_ms: int, certified: Certificates | None = None
    ) -> int: ...


async def apply_batch(events: Sequence[DomainEvent], store: Invalidates, at_ms: int) -> list[int]:
    """Invalidate the union of the events' entries (each entry once, analytics marked stale
    as for one event) in one pipelined round trip, sparing an entry that the writes' own clears
    certified for every event of the batch affecting it; returns each event's own count (the
    entries it affects), in order. All or nothing: on failure, none counts as applied."""
    affected = [(event, set(keys_for(event.payload))) for event in events]
    certificates = certificates_of(affected)  # the rules applied once per event
    await store.invalidate(certificates.keys(), at_ms, certificates)
    return [len(keys) for _, keys in affected]


# Records an applied event for the metrics service: (event, entries invalidated, when).
Report = Callable[[DomainEvent, int, float], None]


def record_applied(
    applied: Sequence[tuple[DomainEvent, int]],
    at: float,
    metrics: InvalidatorMetrics,
    report: Report | None,
) -> None:
    """Metrics (and reports, if any) of events applied at `at`, each with its entry count."""
    metrics.applied_batch(applied, at)
    if report is None:
        return
    for event, count in applied:
        try:
            report(event, count, at)
        except Exception:
            log.warning("could not report invalidation %s", event.id, exc_info=True)
