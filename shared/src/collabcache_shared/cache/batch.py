"""Filling many entries of one family at once, by the protocol of `CacheManager.get_or_load`
(README, "The fenced cache protocol"): one lookup of them all, one round trip of leases (each
the same `LEASE` script a single read runs, in "miss" mode), one load of the leased ones, one
round trip of fills (each the same `FILL` script: refused unless its lease still holds and no
fence is up). A warm fills the thousands of standings of its users this way.

Unlike `get_or_load` it never waits for another loader: an entry leased elsewhere is left to
that loader (REFUSED here), and one fenced by a write is not loaded at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import StrEnum

from ..clock import now_ms
from .errors import RedisUnavailable
from .manager import CacheManager, entry_of
from .store import FillResult, Lease, Slot

# The bodies of the slots it was given, by slot; a slot left out: the loader refuses it (the
# caller may not see it): nothing is stored.
BatchLoader = Callable[[Sequence[Slot]], Awaitable[Mapping[Slot, bytes]]]


class Ending(StrEnum):
    """How one entry's fill ended."""

    FILLED = "filled"
    REFUSED = "refused"  # a write's fence, a lost lease, or another loader's lease
    FRESH = "fresh"  # fresh already (or filled by another meanwhile)
    FULL = "full"  # not stored: the entry has no room for another field (max_fields)
    NOT_VISIBLE = "not_visible"  # the loader refused it (404, 401)
    UNAVAILABLE = "unavailable"  # Redis not usable: nothing loaded
    FAILED = "failed"  # the load failed


async def fill_many(
    cache: CacheManager,
    slots: Sequence[Slot],
    load: BatchLoader,
    after_load: Callable[[], Awaitable[None]] | None = None,
) -> list[Ending]:
    """Fill `slots` (one family), each ending in order."""
    if not slots:
        return []
    found = await cache.lookup(slots)
    if found is None:
        return [Ending.UNAVAILABLE] * len(slots)
    now = now_ms()
    endings = [Ending.FRESH] * len(slots)
    wanted = [i for i, f in enumerate(found) if cache.fresh(f, now) is None or f.stale_since_ms]
    settings = cache.settings
    family = slots[0].key.family
    ttl_ms, max_fields = settings.ttl_ms(family), settings.max_fields(family)
    try:
        leases = await cache.through_breaker(
            cache.store.lease_many,
            [(slots[i], found[i].generation) for i in wanted],
            now,
            settings.lease_ms,
            "miss",
            ttl_ms,
            settings.young_server_seconds,
        )
    except RedisUnavailable:
        return [Ending.UNAVAILABLE] * len(slots)
    granted: list[tuple[int, Lease]] = []
    for i, lease in zip(wanted, leases, strict=True):
        if lease.granted:
            granted.append((i, lease))
        elif not lease.filled_meanwhile:
            endings[i] = Ending.REFUSED
    if not granted:
        return endings
    try:
        bodies = await load([slots[i] for i, _ in granted])
        if after_load is not None:
            await after_load()
    except BaseException:
        await _release(cache, [(slots[i], lease) for i, lease in granted])
        raise
    await _release(cache, [(slots[i], lease) for i, lease in granted if slots[i] not in bodies])
    stored = [(i, lease) for i, lease in granted if slots[i] in bodies]
    for i, _ in granted:
        endings[i] = Ending.NOT_VISIBLE
    fills = [
        (slots[i], lease, entry_of(slots[i], found[i].generation, bodies[slots[i]]))
        for i, lease in stored
    ]
    try:
        results = await cache.through_breaker(cache.store.fill_many, fills, ttl_ms, max_fields)
    except RedisUnavailable:
        results = [FillResult.REFUSED] * len(fills)
    for (i, _), result in zip(stored, results, strict=True):
        endings[i] = _ENDING_OF_FILL[result]
        cache.count_fill(result)
    return endings


_ENDING_OF_FILL = {
    FillResult.STORED: Ending.FILLED,
    FillResult.FULL: Ending.FULL,
    FillResult.REFUSED: Ending.REFUSED,
}


async def _release(cache: CacheManager, leased: list[tuple[Slot, Lease]]) -> None:
    """Give back leases nothing will fill (a reader need not wait for them to expire)."""
    for slot, lease in leased:
        try:
            await cache.through_breaker(cache.store.release, slot, lease)
        except RedisUnavailable:
            return
