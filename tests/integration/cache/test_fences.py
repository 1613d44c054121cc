"""Write fences at the manager level, on both backends (README, "The fenced cache protocol"):
two managers on one Redis play two API replicas. A fence drops what it covers, refuses leases
and fills until it is cleared or expires, and a lost clear is covered by the expiry alone."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from collabcache_shared.cache.errors import FenceExpired, FenceUnavailable
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import CacheManager, Outcome
from collabcache_shared.cache.store import AnyRedis, EntryStore, Slot
from collabcache_shared.settings import CacheSettings

FENCE_S = 0.6


def replica(redis: AnyRedis, keyspace: KeySpace, **settings: float) -> CacheManager:
    options = {"fence_seconds": FENCE_S, "fence_commit_margin_seconds": 0.2, **settings}
    return CacheManager(EntryStore(redis, keyspace), CacheSettings(**options))  # type: ignore[arg-type]


def members(org: uuid.UUID | None = None) -> Slot:
    return Slot(CacheKey.of(Family.ORGANIZATION_MEMBERS, org or uuid.uuid4()), "p1")


def loader(database: dict[str, bytes]):  # type: ignore[no-untyped-def]
    async def load() -> bytes:
        return database["v"]

    return load


async def test_a_fence_drops_the_entry_and_refuses_every_fill_until_cleared(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    a, b = replica(redis, keyspace), replica(redis, keyspace)
    slot, database = members(), {"v": b"old"}
    await a.get_or_load(slot, loader(database))
    assert (await b.get_or_load(slot, loader(database))).outcome is Outcome.HIT
    fence = await a.fences.place([slot.key])
    assert fence is not None
    # Between the fence and the commit: answered from the database, never stored.
    for _ in range(2):
        during = await b.get_or_load(slot, loader(database))
        assert (during.outcome, during.body) == (Outcome.MISS, b"old")
    assert b.counters["fill_fenced"] == 2 and b.counters["fill"] == 0
    database["v"] = b"new"  # the commit
    assert await a.fences.clear(fence)
    after = [await b.get_or_load(slot, loader(database)) for _ in range(2)]
    assert [(r.outcome, r.body) for r in after] == [(Outcome.MISS, b"new"), (Outcome.HIT, b"new")]


async def test_a_lease_taken_before_the_fence_cannot_fill(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    a, b = replica(redis, keyspace), replica(redis, keyspace)
    slot, database = members(), {"v": b"old"}
    read, release = asyncio.Event(), asyncio.Event()

    async def slow_load() -> bytes:
        value = database["v"]
        read.set()
        await release.wait()
        return value

    reader = asyncio.create_task(b.get_or_load(slot, slow_load))
    await read.wait()
    fence = await a.fences.place([slot.key])
    assert fence is not None
    release.set()
    assert (await reader).body == b"old"  # concurrent with the write: either value is right
    assert b.counters["fill_refused"] == 1
    database["v"] = b"new"
    await a.fences.clear(fence)
    assert (await b.get_or_load(slot, loader(database))).body == b"new"


async def test_one_write_clearing_leaves_another_writes_fence_up(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    a, b = replica(redis, keyspace), replica(redis, keyspace)
    slot, database = members(), {"v": b"v0"}
    first = await a.fences.place([slot.key])
    second = await b.fences.place([slot.key])
    assert first is not None and second is not None
    database["v"] = b"v1"
    await a.fences.clear(first)
    await a.invalidate([slot.key])  # the invalidator's drop leaves fences up too
    await b.get_or_load(slot, loader(database))
    assert b.counters["fill"] == 0, "filled while the second write had not committed"
    database["v"] = b"v2"
    await b.fences.clear(second)
    assert (await a.get_or_load(slot, loader(database))).body == b"v2"
    assert (await a.get_or_load(slot, loader(database))).outcome is Outcome.HIT


async def test_a_lost_clear_is_covered_by_the_fence_expiring(
    redis: AnyRedis, keyspace: KeySpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = replica(redis, keyspace), replica(redis, keyspace)
    slot, database = members(), {"v": b"old"}
    await b.get_or_load(slot, loader(database))
    fence = await a.fences.place([slot.key])
    assert fence is not None
    database["v"] = b"new"

    async def lost(*_: object) -> int:
        raise RedisConnectionError("Redis is away")

    monkeypatch.setattr(a.store, "clear", lost)
    started = time.monotonic()
    assert not await a.fences.clear(fence)  # retried until the fence would expire
    assert FENCE_S * 0.8 < time.monotonic() - started < FENCE_S + 0.5
    assert a.fences.counters["clear_lost"] == 1
    assert (await b.get_or_load(slot, loader(database))).body == b"new"
    await asyncio.sleep(max(0.0, fence.expires_at - time.monotonic()) + 0.05)
    reads = [await b.get_or_load(slot, loader(database)) for _ in range(2)]
    assert [(r.outcome, r.body) for r in reads] == [(Outcome.MISS, b"new"), (Outcome.HIT, b"new")]


async def test_a_fence_that_cannot_be_placed_is_an_error_not_a_write(
    redis: AnyRedis, keyspace: KeySpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = replica(redis, keyspace)

    async def refused(*_: object) -> int:
        raise RedisConnectionError("Redis is down")

    monkeypatch.setattr(a.store, "fence", refused)
    with pytest.raises(FenceUnavailable):
        await a.fences.place([members().key])
    assert await a.fences.place([]) is None  # a write that changes nothing cached


async def test_a_write_past_its_commit_deadline_is_refused(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    a = replica(redis, keyspace)
    fence = await a.fences.place([members().key])
    assert fence is not None
    fence.check_deadline()
    await asyncio.sleep(fence.commit_by - time.monotonic() + 0.01)
    with pytest.raises(FenceExpired):
        fence.check_deadline()


async def test_a_burst_of_failing_reads_retires_nothing_and_fences_still_work(
    redis: AnyRedis, keyspace: KeySpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The breaker protects latency only: reads failing in a burst open it (BYPASS), but no
    family generation moves (no cluster-wide retirement), and writes still fence."""
    a, b = replica(redis, keyspace), replica(redis, keyspace)
    slot, database = members(), {"v": b"v"}
    await b.get_or_load(slot, loader(database))
    real = a.store.lookup

    async def slow(*_: object) -> object:
        raise TimeoutError

    monkeypatch.setattr(a.store, "lookup", slow)
    outcomes = await asyncio.gather(*(a.get_or_load(slot, loader(database)) for _ in range(30)))
    assert {r.outcome for r in outcomes} == {Outcome.BYPASS}
    assert a.stats()["breaker"] == "open"
    monkeypatch.setattr(a.store, "lookup", real)
    generations = [await redis.get(keyspace.generation(f)) for f in Family]
    assert generations == [None] * len(generations)
    assert (await b.get_or_load(slot, loader(database))).outcome is Outcome.HIT
    assert await a.fences.place([slot.key]) is not None
