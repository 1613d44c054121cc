"""One load per cold key (README, "Consistency guarantees, in plain words"): concurrent readers
of a cold entry cause one database load, in one process (single flight) and across processes
(the Redis lease), with a bounded wait."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import CacheManager, Outcome
from collabcache_shared.cache.store import EntryStore, Slot
from collabcache_shared.settings import CacheSettings
from tests.integration.builders import Scene
from tests.integration.statements import StatementCounter

READERS = 200
ANALYTICS_SQL = "SELECT role, count(*) FROM organization_members"
COMMENTS_SQL = "FROM comments LEFT OUTER JOIN users"


@pytest.mark.parametrize(
    ("route", "sql_text"),
    [
        ("/api/organizations/{org_id}/analytics", ANALYTICS_SQL),
        ("/api/collaboration/studies/{study_id}/comments", COMMENTS_SQL),
    ],
    ids=["org analytics", "comments"],
)
async def test_concurrent_readers_of_a_cold_entry_load_it_once(
    route: str, sql_text: str, client: httpx.AsyncClient, scene: Scene, sql: StatementCounter
) -> None:
    path = route.format(org_id=scene.org_id, study_id=scene.study_id)
    # four users (the admin sees the study as an organization manager): four standings to
    # load, and one shared response
    readers = [scene.owner, scene.admin, scene.editor, scene.viewer]
    responses = await asyncio.gather(
        *(client.get(path, headers=readers[i % len(readers)].headers) for i in range(READERS))
    )
    assert [r.status_code for r in responses] == [200] * READERS
    assert len({r.content for r in responses}) == 1
    assert len({r.headers["etag"] for r in responses}) == 1
    assert sql.count(sql_text) == 1, f"{sql.count(sql_text)} loads for {READERS} readers"
    assert {r.headers["x-cache"] for r in responses} <= {"MISS", "HIT"}


# -- across processes: two managers (two API processes) on one Redis ------------------------------
@pytest.fixture
async def two_processes(
    servers: dict[str, str], app_keyspace: KeySpace
) -> AsyncIterator[Callable[..., tuple[CacheManager, CacheManager]]]:
    clients: list[Redis] = []
    managers: list[CacheManager] = []

    def make(**settings: Any) -> tuple[CacheManager, CacheManager]:
        for _ in range(2):
            redis = Redis.from_url(servers["redis"], max_connections=64)
            clients.append(redis)
            managers.append(
                CacheManager(EntryStore(redis, app_keyspace), CacheSettings(**settings))
            )
        return managers[-2], managers[-1]

    yield make
    for manager in managers:
        await manager.aclose()
    for redis in clients:
        await redis.aclose()


def _cold_slot() -> Slot:
    return Slot(CacheKey.of(Family.STUDY_COMMENTS, uuid.uuid4()), "50:")


async def test_two_processes_load_a_cold_entry_once(
    two_processes: Callable[..., tuple[CacheManager, CacheManager]],
) -> None:
    first, second = two_processes()
    slot = _cold_slot()
    loads = 0
    holding, release = asyncio.Event(), asyncio.Event()

    async def slow_load() -> bytes:
        nonlocal loads
        loads += 1
        holding.set()
        await release.wait()  # until the second process's readers have come and looked
        return b'{"items":["loaded once"]}'

    async def readers(manager: CacheManager) -> list[Outcome]:
        results = await asyncio.gather(*(manager.get_or_load(slot, slow_load) for _ in range(50)))
        assert {r.body for r in results} == {b'{"items":["loaded once"]}'}
        return [r.outcome for r in results]

    looked = asyncio.Event()
    store_lookup = second.store.lookup

    async def lookup_then_say(slots: Any) -> Any:
        found = await store_lookup(slots)
        looked.set()
        return found

    second.store.lookup = lookup_then_say  # type: ignore[method-assign]
    leader = asyncio.create_task(readers(first))
    await holding.wait()  # the first process holds the lease and loads
    following = asyncio.create_task(readers(second))
    # Its readers have looked (and found the lease held) before the load ends, however long
    # their first round trips take on a loaded machine.
    await asyncio.wait_for(looked.wait(), timeout=10)
    release.set()
    follower = await following
    await leader
    assert loads == 1
    assert first.counters["miss"] == 1 and first.counters["fill"] == 1
    # The second process never loaded: each of its readers found the value (a hit: after
    # waiting for the lease, or at once if its first lookup came after the fill) or shared
    # its process's flight that found it; how many of each depends on the machine's timing.
    assert second.counters["miss"] == 0 and second.counters["hit"] >= 1
    assert second.counters["hit"] + second.counters["flight_joined"] == 50
    assert Outcome.HIT in follower  # waited for the lease holder's value, did not load


async def test_a_waiter_loads_itself_when_the_lease_holder_hangs(
    two_processes: Callable[..., tuple[CacheManager, CacheManager]],
) -> None:
    wait_s = 0.3
    first, second = two_processes(stampede_wait_seconds=wait_s)
    slot = _cold_slot()
    hang = asyncio.Event()
    holding = asyncio.Event()

    async def hanging_load() -> bytes:
        holding.set()
        await hang.wait()
        return b'{"items":["late"]}'

    async def own_load() -> bytes:
        return b'{"items":["mine"]}'

    stuck = asyncio.create_task(first.get_or_load(slot, hanging_load))
    await holding.wait()
    started = time.monotonic()
    results = await asyncio.wait_for(
        asyncio.gather(*(second.get_or_load(slot, own_load) for _ in range(50))), timeout=5
    )
    waited = time.monotonic() - started
    assert wait_s <= waited < wait_s + 1.0, waited  # bounded: neither at once, nor forever
    assert {r.body for r in results} == {b'{"items":["mine"]}'}
    assert second.counters["miss"] == 1  # one forced load for its 50 readers
    hang.set()
    assert (await stuck).body == b'{"items":["late"]}'
    assert first.counters["fill_refused"] == 1  # its lease was taken over: no late overwrite
    assert (await second.get_or_load(slot, hanging_load)).body == b'{"items":["mine"]}'
