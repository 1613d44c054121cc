"""A write's clear certifies its entries for its events; the invalidator's later drop of those
events spares what was filled since, and only that (README, "The fenced cache protocol").

Two managers on one Redis play two API replicas, `drop` plays the invalidator (the same store
call its handler makes); on both backends.
"""

from __future__ import annotations

import uuid

from collabcache_shared.cache.entry import CERTIFIED
from collabcache_shared.cache.fences import MAX_CERTIFICATES
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import CacheManager, Outcome
from collabcache_shared.cache.store import AnyRedis, EntryStore, Slot
from collabcache_shared.clock import now_ms
from collabcache_shared.settings import CacheSettings

EVENT, OTHER_EVENT = uuid.uuid4().hex, uuid.uuid4().hex


def replica(redis: AnyRedis, keyspace: KeySpace) -> CacheManager:
    settings = CacheSettings(fence_seconds=0.6, fence_commit_margin_seconds=0.2)
    return CacheManager(EntryStore(redis, keyspace), settings)


def members() -> Slot:
    return Slot(CacheKey.of(Family.ORGANIZATION_MEMBERS, uuid.uuid4()), "p1")


class Database:
    def __init__(self) -> None:
        self.value = b"old"

    async def load(self) -> bytes:
        return self.value


async def committed_write(cache: CacheManager, slot: Slot, db: Database, event: str) -> None:
    """fence → commit → clear, as the API's unit of work, certifying `event`."""
    fence = await cache.fences.place([slot.key], {slot.key: [event]})
    assert fence is not None
    db.value = b"new"
    assert await cache.fences.clear(fence)


async def drop(cache: CacheManager, slot: Slot, *events: str) -> None:
    await cache.store.invalidate([slot.key], now_ms(), {slot.key: list(events)})


async def test_the_drop_of_the_writes_own_event_spares_what_was_filled_after_its_clear(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    a, b = replica(redis, keyspace), replica(redis, keyspace)
    slot, db = members(), Database()
    await committed_write(a, slot, db, EVENT)
    assert (await b.get_or_load(slot, db.load)).outcome is Outcome.MISS  # filled: "new"
    await drop(b, slot, EVENT)
    kept = await b.get_or_load(slot, db.load)
    assert (kept.outcome, kept.body) == (Outcome.HIT, b"new")
    name = keyspace.entry(slot.key)
    assert not await redis.hexists(name, CERTIFIED + EVENT)  # used up
    await drop(b, slot, EVENT)  # the same event delivered again: no certificate left
    assert not await redis.exists(name)


async def test_a_drop_of_another_event_or_of_more_events_goes_ahead(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    a = replica(redis, keyspace)
    for events in ((OTHER_EVENT,), (EVENT, OTHER_EVENT), ()):
        slot, db = members(), Database()
        await committed_write(a, slot, db, EVENT)
        await a.get_or_load(slot, db.load)
        await drop(a, slot, *events)
        assert not await redis.exists(keyspace.entry(slot.key)), events


async def test_an_expired_fence_certifies_nothing_and_the_drop_removes_a_stale_fill(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """The invalidator's drop is the backstop of a write whose clear never came (its replica
    died after the commit): the fence expires, a reader may fill, the drop must remove it."""
    a, b = replica(redis, keyspace), replica(redis, keyspace)
    slot, db = members(), Database()
    fence = await a.fences.place([slot.key], {slot.key: [EVENT]})
    assert fence is not None
    db.value = b"new"  # committed; the replica dies before its clear
    await redis.delete(keyspace.entry(slot.key))  # the fence expired
    db.value = b"stale"  # what a reader left there, however it came to be
    await b.get_or_load(slot, db.load)
    await drop(b, slot, EVENT)
    assert not await redis.exists(keyspace.entry(slot.key))


async def test_a_later_writes_fence_takes_the_certificate_away(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    a, b = replica(redis, keyspace), replica(redis, keyspace)
    slot, db = members(), Database()
    await committed_write(a, slot, db, EVENT)
    second = await b.fences.place([slot.key], {slot.key: [OTHER_EVENT]})
    assert second is not None
    assert not await redis.hexists(keyspace.entry(slot.key), CERTIFIED + EVENT)
    await b.fences.clear(second)
    await a.get_or_load(slot, db.load)
    await drop(a, slot, EVENT)  # the first write's event, certified no longer
    assert not await redis.exists(keyspace.entry(slot.key))


async def test_an_entry_affected_by_many_events_of_one_write_is_not_certified(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """Certificates are fields of the entry: past a few, none is left (the drop goes ahead)."""
    a = replica(redis, keyspace)
    slot, db = members(), Database()
    events = [uuid.uuid4().hex for _ in range(MAX_CERTIFICATES + 1)]
    fence = await a.fences.place([slot.key], {slot.key: events})
    assert fence is not None and fence.certify == {}
    await a.fences.clear(fence)
    assert not await redis.exists(keyspace.entry(slot.key))
    await a.get_or_load(slot, db.load)
    await drop(a, slot, *events)
    assert not await redis.exists(keyspace.entry(slot.key))
