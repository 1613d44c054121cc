"""What the metrics service does with a batch of stream entries: decode, fold, then apply and
acknowledge in one transaction (`collabcache_shared.metrics.writer`). The same function serves
every batch the stream worker hands on: read, claimed from dead consumers, or its own pending
entries at a stop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from collabcache_shared.events import (
    CACHE_EVENTS_STREAM,
    INVALIDATION_EVENTS_STREAM,
    CacheEvent,
    InvalidationApplied,
)
from collabcache_shared.metrics.fold import (
    Fields,
    Fold,
    decode,
    fold_cache_events,
    fold_invalidations,
)
from collabcache_shared.metrics.layout import AggregateKeys
from collabcache_shared.metrics.writer import AggregateWriter

from .service_metrics import ServiceMetrics

log = logging.getLogger("collabcache_metrics")

Folder = Callable[[Sequence[Fields], AggregateKeys, int], Fold]


@dataclass(frozen=True, slots=True)
class Source:
    """A stream the service folds: its label in the service's metrics, its name under the key
    prefix (`collabcache_shared.events`)."""

    kind: str
    name: str


CACHE_EVENTS = Source("cache_events", CACHE_EVENTS_STREAM)
INVALIDATIONS = Source("invalidations", INVALIDATION_EVENTS_STREAM)


def fold_cache_entries(entries: Sequence[Fields], keys: AggregateKeys, now_s: int) -> Fold:
    events, rejected = decode(entries, CacheEvent)
    return fold_cache_events(events, keys, now_s, rejected)


def fold_invalidation_entries(entries: Sequence[Fields], keys: AggregateKeys, now_s: int) -> Fold:
    events, rejected = decode(entries, InvalidationApplied)
    return fold_invalidations(events, keys, now_s, rejected)


class BatchConsumer:
    def __init__(
        self,
        source: Source,
        writer: AggregateWriter,
        folder: Folder,
        metrics: ServiceMetrics,
        *,
        max_apply_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.writer = writer
        self.folder = folder
        self.metrics = metrics
        self.max_apply_seconds = max_apply_seconds
        self.clock = clock

    async def consume(self, ids: Sequence[bytes], entries: Sequence[Fields]) -> int:
        """Fold the entries and apply them with their acknowledgement; returns how many
        events were counted. Raises (leaving the entries pending) when that fails."""
        read_at = self.writer.clock()
        fold = self.folder(entries, self.writer.keys, int(self.clock()))
        try:
            await self.writer.apply(fold, ids, deadline=read_at + self.max_apply_seconds)
        except Exception:
            self.metrics.failed_batches.labels(stream=self.source.kind).inc()
            raise
        self.metrics.consumed.labels(stream=self.source.kind).inc(fold.events)
        if fold.rejected:
            self.metrics.rejected.labels(stream=self.source.kind).inc(fold.rejected)
            log.warning("%d %s entries were not valid events", fold.rejected, self.source.kind)
        return fold.events


def batch_of(raw: Any) -> tuple[list[bytes], list[Fields]]:
    """The entry ids and fields of a raw FastStream batch stream message."""
    return list(raw.get("message_ids") or []), list(raw.get("data") or [])
