"""Cache operations only tests need: read a slot's fresh value, store one outright, retire
whole families (bump their generation counters: every entry filled before is invalid)."""

from __future__ import annotations

from collections.abc import Iterable

from collabcache_shared.cache.entry import Entry, etag_of
from collabcache_shared.cache.keys import Family
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.cache.store import EntryStore, FillResult, Slot
from collabcache_shared.clock import now_ms


async def cached_body(cache: CacheManager, slot: Slot) -> bytes | None:
    """The slot's value if it is there and fresh."""
    (found,) = await cache.store.lookup([slot])
    entry = cache.fresh(found, now_ms())
    return entry.body if entry is not None else None


async def store_body(cache: CacheManager, slot: Slot, body: bytes) -> bool:
    """Store `body` as the slot's value, taking any reader's lease over, unless a write's
    fence is up (then False): as a reader that loaded it would, under the same protocol."""
    store, settings, family = cache.store, cache.settings, slot.key.family
    (found,) = await store.lookup([slot])
    ttl_ms = settings.ttl_ms(family)
    young = settings.young_server_seconds  # a restarted server grants no lease for this long
    lease = await store.lease(
        slot, now_ms(), settings.lease_ms, found.generation, "force", ttl_ms, young
    )
    if not lease.granted:
        return False
    entry = Entry(found.generation, now_ms(), etag_of(body), body)
    stored = await store.fill(slot, lease, entry, ttl_ms, settings.max_fields(family))
    return stored is FillResult.STORED


async def retire(store: EntryStore, families: Iterable[Family]) -> None:
    """Bump the families' generations: their entries stop being valid at once (no SCAN)."""
    pipe = store.redis.pipeline(transaction=False)
    for family in families:
        pipe.incr(store.keys.generation(family))
    await pipe.execute()
