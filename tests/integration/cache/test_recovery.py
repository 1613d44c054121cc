"""The recovery after a missed invalidation, at the manager level and on both backends: two
managers on one Redis play two API processes, and the test holds the recovery probe open to
interleave a write with it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import CacheManager, Outcome
from collabcache_shared.cache.store import AnyRedis, EntryStore, Slot
from collabcache_shared.settings import CacheSettings

RESET = 0.05


def manager(redis: AnyRedis, keyspace: KeySpace) -> CacheManager:
    return CacheManager(EntryStore(redis, keyspace), CacheSettings(breaker_reset_seconds=RESET))


async def miss_one_invalidation(
    cache: CacheManager, key: CacheKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis refuses one invalidation of `cache`: its breaker opens, a retirement is owed."""
    real = cache.store.invalidate

    async def refused(*_: object) -> int:
        raise RedisConnectionError("Redis is down")

    monkeypatch.setattr(cache.store, "invalidate", refused)
    assert not await cache.invalidate([key])
    monkeypatch.setattr(cache.store, "invalidate", real)


async def test_recovery_retires_before_the_cache_is_used_again(
    redis: AnyRedis, keyspace: KeySpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = manager(redis, keyspace)
    slot = Slot(CacheKey.of(Family.ORGANIZATION_MEMBERS, uuid.uuid4()))
    database = {"value": b"old"}

    async def load() -> bytes:
        return database["value"]

    await cache.get_or_load(slot, load)
    database["value"] = b"new"
    await miss_one_invalidation(cache, slot.key, monkeypatch)
    assert (await cache.get_or_load(slot, load)).outcome is Outcome.BYPASS  # breaker open
    await asyncio.sleep(RESET * 1.5)
    served = [await cache.get_or_load(slot, load) for _ in range(2)]
    assert [(r.outcome, r.body) for r in served] == [(Outcome.MISS, b"new"), (Outcome.HIT, b"new")]


async def test_an_invalidation_missed_during_the_recovery_probe_is_not_forgotten(
    redis: AnyRedis, keyspace: KeySpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Process A owes a retirement; its probe retires every family. Right after, process B
    caches the current value, a write commits, and A cannot apply the write's invalidation
    (its probe holds the breaker). When the probe ends, A must still owe a retirement: if it
    closed its breaker, A and B would both serve B's entry, older than the write."""
    a, b = manager(redis, keyspace), manager(redis, keyspace)
    slot = Slot(CacheKey.of(Family.ORGANIZATION_MEMBERS, uuid.uuid4()))
    database = {"value": b"old"}

    async def load() -> bytes:
        return database["value"]

    await miss_one_invalidation(a, slot.key, monkeypatch)
    retired, go_on = asyncio.Event(), asyncio.Event()
    real_retire_all = a.store.retire_all

    async def held_retire_all() -> None:
        await real_retire_all()
        retired.set()
        await go_on.wait()

    monkeypatch.setattr(a.store, "retire_all", held_retire_all)
    # A's background recovery probes within RESET, with no request needed.
    await asyncio.wait_for(retired.wait(), 5)

    assert (await b.get_or_load(slot, load)).body == b"old"  # B caches, after the retirement
    database["value"] = b"new"  # the write commits...
    assert not await a.invalidate([slot.key])  # ...and A cannot apply its invalidation
    go_on.set()

    monkeypatch.setattr(a.store, "retire_all", real_retire_all)
    await asyncio.sleep(RESET * 1.5)
    for cache in (a, b, a):
        assert (await cache.get_or_load(slot, load)).body == b"new"


async def test_recovery_needs_no_traffic_in_the_process_that_missed(
    redis: AnyRedis, keyspace: KeySpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica (B) never lost Redis and keeps serving its entry; A owes a retirement
    and receives no request. A's background probe must retire everything by itself, so B stops
    serving the entry that missed A's invalidation within about one reset period."""
    a, b = manager(redis, keyspace), manager(redis, keyspace)
    slot = Slot(CacheKey.of(Family.ORGANIZATION_MEMBERS, uuid.uuid4()))
    database = {"value": b"old"}

    async def load() -> bytes:
        return database["value"]

    assert (await b.get_or_load(slot, load)).body == b"old"
    database["value"] = b"new"
    await miss_one_invalidation(a, slot.key, monkeypatch)  # A's write could not invalidate
    for _ in range(100):  # no request reaches A meanwhile
        await asyncio.sleep(RESET)
        if a.breaker.state.value == "closed":
            break
    served = await b.get_or_load(slot, load)
    assert (served.outcome, served.body) == (Outcome.MISS, b"new")
    await a.aclose()
