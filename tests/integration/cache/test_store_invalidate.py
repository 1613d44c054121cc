"""`EntryStore.invalidate` on many keys at once, on a standalone Redis (one multi-key UNLINK,
one stale-marking script call) and on a cluster (a command per key, each in its own slot):
plain entries go, stale-serving ones are kept and marked, missing ones stay missing, and a
script the server forgot (SCRIPT FLUSH: a restart, a failover) is loaded again."""

from __future__ import annotations

import uuid

from redis.asyncio.cluster import RedisCluster

from collabcache_shared.cache import scripts
from collabcache_shared.cache.entry import DATA, GENERATION, STALE_SINCE
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.store import AnyRedis, EntryStore

NOW_MS = 1_767_225_600_000
VALUE, INVALIDATIONS = (DATA + "-").encode(), GENERATION.encode()


def keys_of(family: Family, n: int) -> list[CacheKey]:
    return [CacheKey.of(family, uuid.uuid4()) for _ in range(n)]


async def fill(redis: AnyRedis, names: list[str]) -> None:
    for name in names:
        await redis.hset(name, mapping={VALUE: b"cached", INVALIDATIONS: 0})


async def flush_scripts(redis: AnyRedis) -> None:
    if isinstance(redis, RedisCluster):
        await redis.execute_command("SCRIPT FLUSH", target_nodes=RedisCluster.ALL_NODES)
    else:
        await redis.script_flush()


async def test_plain_entries_go_and_stale_serving_ones_are_marked(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    store = EntryStore(redis, keyspace)
    plain, stale = keys_of(Family.STUDY_COMMENTS, 30), keys_of(Family.TEAM_ANALYTICS, 60)
    missing = keys_of(Family.ORGANIZATION_ANALYTICS, 5) + keys_of(Family.TEAM_MEMBERS, 5)
    await fill(redis, [keyspace.entry(k) for k in plain + stale])
    await flush_scripts(redis)
    if isinstance(redis, RedisCluster):
        assert not await script_loaded(redis, scripts.INVALIDATE_SHA)

    for attempt in (1, 2):  # again: idempotent (the entries are gone, or marked once more)
        count = await store.invalidate([*plain, *stale, *missing, *plain[:3]], NOW_MS + attempt)

        assert count == len(plain) + len(stale) + len(missing)
        for key in plain + missing:
            assert not await redis.exists(keyspace.entry(key))
        for key in stale:
            entry = await redis.hgetall(keyspace.entry(key))
            assert entry[VALUE] == b"cached" and entry[INVALIDATIONS] == str(attempt).encode()
            assert entry[STALE_SINCE.encode()] == str(NOW_MS + 1).encode()  # the first one
    if isinstance(redis, RedisCluster):  # NOSCRIPT answered, EVAL loaded it where it was missing
        assert await script_loaded(redis, scripts.INVALIDATE_SHA)


async def script_loaded(redis: RedisCluster, sha: str) -> bool:
    replies = await redis.execute_command("SCRIPT EXISTS", sha, target_nodes=RedisCluster.ALL_NODES)
    return all(replies)  # on every node (the 60 stale entries are on all 3 nodes)


async def test_nothing_to_invalidate_sends_nothing(redis: AnyRedis, keyspace: KeySpace) -> None:
    assert await EntryStore(redis, keyspace).invalidate([], NOW_MS) == 0
