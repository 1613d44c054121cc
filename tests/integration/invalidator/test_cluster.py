"""The invalidator on a Redis Cluster (`REDIS_CLUSTER=true`): the same consumer, group, claim
loop and dead-lettering, with FastStream's cluster broker and a cluster client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from faststream.redis import RedisClusterBroker

from collabcache_invalidator.bootstrap import build
from collabcache_invalidator.settlement import INVALID
from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.cache.store import EntryStore, Slot
from collabcache_shared.events import DomainEvent, StudyChanged
from collabcache_shared.settings import CacheSettings, RedisSettings
from tests.cache_support import store_body
from tests.integration.cache.redis_server import RedisCluster, temp_directory
from tests.integration.invalidator.support import FAST, eventually, publish, running
from tests.integration.streams import entries


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    nodes = RedisCluster(temp_directory("invalidator-cluster"))
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def on_cluster(cluster: RedisCluster, prefix: str) -> RedisSettings:
    return RedisSettings(url=cluster.url, cluster=True, key_prefix=prefix)


@pytest.fixture
async def cluster_cache(on_cluster: RedisSettings) -> AsyncIterator[CacheManager]:
    redis = make_redis(on_cluster)
    yield CacheManager(EntryStore(redis, KeySpace(prefix=on_cluster.key_prefix)), CacheSettings())
    await redis.aclose()


async def test_events_on_a_cluster_are_applied_and_the_invalid_dead_lettered(
    on_cluster: RedisSettings, cluster_cache: CacheManager
) -> None:
    org = uuid.uuid4()
    events = [
        DomainEvent(
            payload=StudyChanged(organization_id=org, study_id=uuid.uuid4(), change="updated")
        )
        for _ in range(20)
    ]
    slots = [Slot(CacheKey.of(Family.STUDY_ACTIVITY, e.payload.study_id)) for e in events]  # type: ignore[union-attr]
    for slot in slots:
        assert await store_body(cluster_cache, slot, b"cached")
    invalidator = build(on_cluster, FAST)
    relay = RedisClusterBroker(on_cluster.dsn)
    await relay.connect()
    try:
        for message in [*events, {"not": "an event"}]:  # one at a time: the relay's cluster path
            await publish(relay, invalidator.names.stream, [message])
    finally:
        await relay.stop()

    async with running(invalidator):

        async def settled() -> bool:
            state = await invalidator.stream.group_state()
            return (state.lag, state.pending) == (0, 0)

        await eventually(settled)
        assert invalidator.names.dead_letter is not None
        dead = await entries(invalidator.redis, invalidator.names.dead_letter)

    assert all(f.entry is None for f in await cluster_cache.store.lookup(slots))
    assert [fields[b"dlq:reason"] for _, fields in dead] == [INVALID.encode()]
