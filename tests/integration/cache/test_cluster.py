"""The cache on Redis Cluster. Every `cache` test (test_manager, test_recovery and the
stale-serving tests here) runs on the standalone Redis and on a 3-node cluster, through
`make_redis(RedisSettings(cluster=True))`; the tests below check what only a cluster has:
entries and generation counters on every node, and a node that dies."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio.cluster import RedisCluster as RedisClusterClient

from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import POLICIES, CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import (
    REFRESHES_AT_ONCE,
    CacheManager,
    Loader,
    Outcome,
    Result,
)
from collabcache_shared.cache.store import AnyRedis, EntryStore, Slot
from collabcache_shared.settings import CacheSettings, RedisSettings
from tests.cache_support import retire
from tests.integration.cache.redis_server import RedisCluster, temp_directory

BOUND = 1.0  # seconds: no call may take longer, even with a node gone


class Source:
    """The database a loader reads: its current value, and how many times it was read."""

    def __init__(self) -> None:
        self.value, self.loads = b"v1", 0

    async def load(self) -> bytes:
        self.loads += 1
        return self.value


def analytics_slot() -> Slot:
    return Slot(CacheKey.of(Family.ORGANIZATION_ANALYTICS, uuid.uuid4()))


async def test_a_stale_serving_family_is_served_stale_once_then_refreshed(
    cache: CacheManager,
) -> None:
    slot = analytics_slot()
    database = {"value": b"v1"}

    async def load() -> bytes:
        return database["value"]

    assert (await cache.get_or_load(slot, load)).outcome is Outcome.MISS
    database["value"] = b"v2"
    assert await cache.invalidate([slot.key])
    stale = await cache.get_or_load(slot, load)
    assert (stale.outcome, stale.body) == (Outcome.STALE, b"v1") and stale.age_s is not None
    refreshed = await wait_for_body(cache, slot, load, b"v2")
    assert refreshed.outcome is Outcome.HIT


async def test_a_stale_serving_family_past_its_bound_is_reloaded(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    cache = CacheManager(EntryStore(redis, keyspace), CacheSettings(stale_bound_seconds=0))
    slot = analytics_slot()
    database = {"value": b"v1"}

    async def load() -> bytes:
        return database["value"]

    await cache.get_or_load(slot, load)
    database["value"] = b"v2"
    assert await cache.invalidate([slot.key])
    await asyncio.sleep(0.01)  # past a bound of 0 s
    reloaded = await cache.get_or_load(slot, load)
    assert (reloaded.outcome, reloaded.body) == (Outcome.MISS, b"v2")


async def test_a_stale_entry_is_refreshed_once_it_is_the_spacing_old(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """Reads of a stale entry filled less than `stale_refresh_seconds` ago are STALE and load
    nothing; once it is that old one refresh loads the value of every write meanwhile."""
    spacing = 1.0
    cache = CacheManager(EntryStore(redis, keyspace), CacheSettings(stale_refresh_seconds=spacing))
    slot = analytics_slot()
    source = Source()
    await cache.get_or_load(slot, source.load)
    filled = time.monotonic()
    for value in (b"v2", b"v3"):
        source.value = value
        assert await cache.invalidate([slot.key])
        stale = await cache.get_or_load(slot, source.load)
        assert (stale.outcome, stale.body) == (Outcome.STALE, b"v1")
    await asyncio.sleep(spacing / 2)
    assert time.monotonic() - filled < spacing, "too slow a machine for this test"
    assert source.loads == 1, "a refresh before the entry was the spacing old"
    refreshed = await wait_for_body(cache, slot, source.load, b"v3")
    assert refreshed.outcome is Outcome.HIT and source.loads == 2
    assert time.monotonic() - filled >= spacing
    await cache.aclose()


async def test_a_refresh_a_write_overtook_is_followed_by_one_within_the_spacing(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """A write lands while a refresh loads: its value is stored but the entry stays stale
    since the first write. The next refresh starts once the entry has been stale the spacing,
    not the spacing after that fill (which, repeated, would run past the bound)."""
    spacing, loading = 1.0, 0.8
    cache = CacheManager(EntryStore(redis, keyspace), CacheSettings(stale_refresh_seconds=spacing))
    slot = analytics_slot()
    source = Source()

    async def load() -> bytes:
        body = await source.load()
        if source.loads == 2:  # the first refresh: a write commits while it loads
            await asyncio.sleep(loading)
            source.value = b"v3"
            assert await cache.invalidate([slot.key])
        return body

    await cache.get_or_load(slot, load)
    await asyncio.sleep(spacing)  # old enough: the first refresh starts at once
    source.value = b"v2"
    assert await cache.invalidate([slot.key])
    stale_since = time.monotonic()
    assert (await cache.get_or_load(slot, load)).outcome is Outcome.STALE
    refreshed = await wait_for_body(cache, slot, load, b"v3")
    assert refreshed.outcome is Outcome.HIT and source.loads == 3
    assert time.monotonic() - stale_since < spacing + loading / 2
    await cache.aclose()


async def test_a_burst_of_stale_entries_is_refreshed_a_few_at_a_time(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """Many entries found stale together (a bulk write): their background refreshes queue,
    `REFRESHES_AT_ONCE` loading at a time, and every one of them still loads the new value."""
    cache = CacheManager(EntryStore(redis, keyspace), CacheSettings(stale_refresh_seconds=0))
    slots = [analytics_slot() for _ in range(4 * REFRESHES_AT_ONCE)]
    value, loading, most = b"v1", 0, 0

    async def load() -> bytes:
        nonlocal loading, most
        loading += 1
        most = max(most, loading)
        await asyncio.sleep(0.05)
        loading -= 1
        return value

    for slot in slots:
        await cache.get_or_load(slot, load)
    value, most = b"v2", 0
    assert await cache.invalidate([slot.key for slot in slots])
    for slot in slots:
        assert (await cache.get_or_load(slot, load)).outcome is Outcome.STALE
    for slot in slots:
        assert (await wait_for_body(cache, slot, load, b"v2")).outcome is Outcome.HIT
    assert most == REFRESHES_AT_ONCE
    await cache.aclose()


async def wait_for_body(cache: CacheManager, slot: Slot, load: Loader, body: bytes) -> Result:
    deadline = time.monotonic() + 5
    while True:
        result = await cache.get_or_load(slot, load)
        if result.body == body or time.monotonic() > deadline:
            assert result.body == body
            return result
        await asyncio.sleep(0.01)


# -- cluster only ------------------------------------------------------------------------
@pytest.fixture
async def cluster_cache(redis_cluster: RedisCluster, run_id: str) -> AsyncIterator[CacheManager]:
    client = make_redis(RedisSettings(url=redis_cluster.url, cluster=True))
    keyspace = KeySpace(prefix=f"cctest:{run_id}:{uuid.uuid4().hex[:8]}")
    yield CacheManager(EntryStore(client, keyspace), CacheSettings())
    await client.aclose()


def keys_per_node(cluster: RedisCluster, prefix: str) -> list[list[bytes]]:
    found = []
    for node in cluster.nodes:
        with node.admin() as admin:
            found.append(list(admin.scan_iter(match=f"{prefix}:*", count=1000)))
    return found


async def test_entries_and_generations_live_on_every_node(
    cluster_cache: CacheManager, redis_cluster: RedisCluster
) -> None:
    """What makes the cluster runs mean something: the keys are spread over all three nodes,
    and a family retirement (one pipeline over every family) reaches each of them."""
    prefix = cluster_cache.store.keys.prefix
    slots = [Slot(CacheKey.of(Family.STUDY_COMMENTS, uuid.uuid4())) for _ in range(30)]
    for slot in slots:
        assert (await cluster_cache.get_or_load(slot, _const(b"x"))).outcome is Outcome.MISS
        assert (await cluster_cache.get_or_load(slot, _const(b"y"))).outcome is Outcome.HIT
    await retire(cluster_cache.store, POLICIES)
    per_node = keys_per_node(redis_cluster, prefix)
    assert all(per_node), [len(keys) for keys in per_node]
    generations = [k for keys in per_node for k in keys if b":gen:" in k]
    assert len(generations) == len(POLICIES)
    assert sum(1 for keys in per_node if any(b":gen:" in k for k in keys)) > 1
    for slot in slots:  # retired: every entry is loaded again
        assert (await cluster_cache.get_or_load(slot, _const(b"z"))).body == b"z"


@pytest.fixture
def doomed_cluster() -> Iterator[RedisCluster]:
    """A cluster of this test alone: one of its nodes is killed."""
    cluster = RedisCluster(temp_directory("doomed"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def test_a_dead_node_costs_a_call_no_more_than_the_timeouts(
    doomed_cluster: RedisCluster, run_id: str
) -> None:
    client = make_redis(RedisSettings(url=doomed_cluster.url, cluster=True))
    cache = CacheManager(EntryStore(client, KeySpace(prefix=f"cctest:{run_id}")), CacheSettings())
    try:
        slots = [Slot(CacheKey.of(Family.STUDY_COMMENTS, uuid.uuid4())) for _ in range(12)]
        for slot in slots:
            await cache.get_or_load(slot, _const(b"cached"))
        assert isinstance(client, RedisClusterClient)
        owner = client.get_node_from_key(cache.store.keys.entry(slots[0].key))
        assert owner is not None
        doomed = next(n for n in doomed_cluster.nodes if n.port == int(owner.port))
        doomed.kill()  # the node holding the first entry, at least
        outcomes = []
        for slot in slots:
            started = time.perf_counter()
            result = await cache.get_or_load(slot, _const(b"db"))
            assert time.perf_counter() - started < BOUND
            assert result.body in {b"cached", b"db"}
            outcomes.append(result.outcome)
        assert Outcome.BYPASS in outcomes  # the breaker opened
        assert not await cache.invalidate([slots[0].key])  # refused, never raised
    finally:
        await client.aclose()


def _const(value: bytes) -> Loader:
    async def load() -> bytes:
        return value

    return load
