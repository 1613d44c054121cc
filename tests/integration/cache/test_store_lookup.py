"""`EntryStore.lookup` (README, "The hit path"): one `Lookup`, made once, reads the same as the
slots it was made of, each time; on a standalone Redis it is sent without redis-py's command
layer, and a server that forgot the script (SCRIPT FLUSH: a restart, a failover) or a pooled
connection that broke is answered through the registered script instead."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from collabcache_shared.cache.entry import DATA, Entry
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.store import AnyRedis, EntryStore, Found, Slot
from tests.integration.cache.test_store_invalidate import flush_scripts

NOW_MS = 1_767_225_600_000


async def _filled(redis: AnyRedis, keyspace: KeySpace) -> tuple[list[Slot], list[Entry]]:
    """A page and a standing filled, a page missing."""
    slots = [
        Slot(CacheKey.of(Family.USER_PERMISSIONS, uuid.uuid4()), "user"),
        Slot(CacheKey.of(Family.ORGANIZATION_MEMBERS, uuid.uuid4()), "limit=50"),
        Slot(CacheKey.of(Family.TEAM_MEMBERS, uuid.uuid4()), "limit=50"),
    ]
    entries = [Entry(0, NOW_MS, "", b'{"exists":true}'), Entry(0, NOW_MS, "e7", b'{"items":[]}')]
    for slot, entry in zip(slots, entries, strict=False):
        await redis.hset(keyspace.entry(slot.key), DATA + slot.variant, entry.encode())
    return slots, entries


def _read(found: list[Found]) -> list[Entry | None]:
    return [f.entry for f in found]


async def test_a_lookup_made_once_reads_what_its_slots_hold_each_time(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    store = EntryStore(redis, keyspace)
    slots, entries = await _filled(redis, keyspace)
    lookup = store.lookup_of(slots)
    assert bool(lookup.command) is isinstance(redis, Redis)  # sent directly where standalone

    await flush_scripts(redis)  # NOSCRIPT: the registered script loads it
    first = await store.lookup(lookup)
    again = await store.lookup(lookup)
    from_slots = await store.lookup(slots)

    assert _read(first) == _read(again) == _read(from_slots) == [*entries, None]
    assert [f.slot for f in first] == slots


async def test_a_lookup_on_a_connection_the_server_closed_is_answered(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    if not isinstance(redis, Redis):
        pytest.skip("a cluster's lookups go through redis-py's pipeline")
    store = EntryStore(redis, keyspace)
    slots, entries = await _filled(redis, keyspace)
    lookup = store.lookup_of(slots)
    await store.lookup(lookup)  # a pooled connection now
    server = redis.connection_pool.connection_kwargs
    killer = Redis(host=server["host"], port=server["port"])
    assert await killer.client_kill_filter(_type="normal", skipme=True) >= 1
    await killer.aclose()

    assert _read(await store.lookup(lookup)) == [*entries, None]


async def test_a_lookup_that_gets_no_connection_fails_once_not_twice(
    servers: dict[str, str],
) -> None:
    """The pool exhausted: the direct lookup's wait for a connection is the only one (the
    registered script would wait for one again): it raises, and the script is not run."""
    pool = BlockingConnectionPool.from_url(servers["redis"], max_connections=1, timeout=0.2)
    client = Redis.from_pool(pool)
    store = EntryStore(client, KeySpace(prefix=f"pool-{uuid.uuid4().hex[:8]}"))
    scripted: list[int] = []
    registered = store._lookup_all

    async def counted(**kwargs: Any) -> Any:
        scripted.append(1)
        return await registered(**kwargs)

    store._lookup_all = counted  # type: ignore[assignment]
    lookup = store.lookup_of([Slot(CacheKey.of(Family.USER_PERMISSIONS, uuid.uuid4()), "user")])
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]  # the only one
    try:
        with pytest.raises(RedisConnectionError):
            await store.lookup(lookup)
    finally:
        await pool.release(connection)
        await client.aclose()
    assert scripted == []
