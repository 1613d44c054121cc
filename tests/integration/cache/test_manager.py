"""The cache manager against a real Redis: hits, misses, leases, invalidation."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis

from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import CacheManager, Outcome
from collabcache_shared.cache.store import Slot
from tests.cache_support import retire


def members_slot(org: uuid.UUID | None = None, page: str = "p1") -> Slot:
    return Slot(CacheKey.of(Family.ORGANIZATION_MEMBERS, org or uuid.uuid4()), page)


async def test_miss_then_hit_returns_the_same_bytes(cache: CacheManager) -> None:
    slot = members_slot()
    calls = 0

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        return b'{"items":[1]}'

    first = await cache.get_or_load(slot, load)
    second = await cache.get_or_load(slot, load)
    assert (first.outcome, second.outcome) == (Outcome.MISS, Outcome.HIT)
    assert second.body == b'{"items":[1]}' and second.etag == first.etag
    assert calls == 1


async def test_invalidation_drops_every_page(cache: CacheManager) -> None:
    org = uuid.uuid4()
    for page in ("p1", "p2"):
        await cache.get_or_load(members_slot(org, page), lambda: _const(b"old"))
    assert await cache.invalidate([CacheKey.of(Family.ORGANIZATION_MEMBERS, org)])
    for page in ("p1", "p2"):
        result = await cache.get_or_load(members_slot(org, page), lambda: _const(b"new"))
        assert (result.outcome, result.body) == (Outcome.MISS, b"new")


async def test_no_stale_set_when_a_write_lands_during_the_load(cache: CacheManager) -> None:
    """No stale fill (README, "Consistency guarantees, in plain words"): hold the loader after
    its database read, commit a write, invalidate, release the loader: the old value must not
    be in the cache."""
    org = uuid.uuid4()
    slot = members_slot(org)
    database = {"value": b"old"}
    read_done, release = asyncio.Event(), asyncio.Event()

    async def slow_load() -> bytes:
        value = database["value"]  # the database read
        read_done.set()
        await release.wait()
        return value

    reader = asyncio.create_task(cache.get_or_load(slot, slow_load))
    await read_done.wait()
    database["value"] = b"new"  # the write commits...
    assert await cache.invalidate([slot.key])  # ...and invalidates
    release.set()
    assert (await reader).body == b"old"  # that reader answered before the write returned
    after = await cache.get_or_load(slot, lambda: _const(database["value"]))
    assert after.body == b"new"
    assert cache.counters["fill_refused"] == 1


async def test_family_retirement_invalidates_without_scanning(
    cache: CacheManager, redis: Redis, keyspace: KeySpace
) -> None:
    slots = [members_slot() for _ in range(20)]
    for slot in slots:
        await cache.get_or_load(slot, lambda: _const(b"v1"))
    await retire(cache.store, [Family.ORGANIZATION_MEMBERS])
    for slot in slots:
        result = await cache.get_or_load(slot, lambda: _const(b"v2"))
        assert (result.outcome, result.body) == (Outcome.MISS, b"v2")
    assert await redis.get(keyspace.generation(Family.ORGANIZATION_MEMBERS)) == b"1"


async def _const(value: bytes) -> bytes:
    return value
