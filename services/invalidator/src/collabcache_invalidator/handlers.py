"""What the invalidator does with a domain event: plain functions of the event and their
dependencies, so they run the same under FastStream, in the claim loop and in a test.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.events import DomainEvent
from collabcache_shared.invalidation import keys_for

from .metrics import InvalidatorMetrics


class Invalidates(Protocol):
    """The part of `EntryStore` a handler needs."""

    async def invalidate(self, keys: Iterable[CacheKey], now_ms: int) -> int: ...


def now_ms() -> int:
    return int(time.time() * 1000)


async def apply(event: DomainEvent, store: Invalidates, at_ms: int | None = None) -> int:
    """Drop (or mark stale, for analytics) every cache entry the event affects, in one
    pipelined round trip; returns how many. Idempotent: a missing entry is a no-op."""
    return await store.invalidate(keys_for(event.payload), now_ms() if at_ms is None else at_ms)


EventHandler = Callable[[DomainEvent], Awaitable[int]]


def measured(
    store: Invalidates, metrics: InvalidatorMetrics, clock: Callable[[], float] = time.time
) -> EventHandler:
    """`apply` bound to its store, recording what it did."""

    async def handle(event: DomainEvent) -> int:
        started = clock()
        count = await apply(event, store, int(started * 1000))
        metrics.applied(event, count, clock())
        return count

    return handle
