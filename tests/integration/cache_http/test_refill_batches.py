"""A warm's batches (`refill_reads`, `load_standings`; README, "Cache warming"): a reader of a
page being filled waits for the loads of its lease group, not for the whole batch; a failure
or a 404 in the middle of a batch leaves no lease held; a batch of standings answers exactly
what the single-resource rules (`access.py`) answer, pair by pair."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_api.caching.access_records import STANDING_OF, load_standings
from collabcache_api.caching.refill import LEASE_GROUP, refill_reads
from collabcache_api.errors import DomainError, NotFound
from collabcache_api.pagination import PageRequest
from collabcache_shared.cache.batch import Ending
from collabcache_shared.cache.entry import LEASE
from collabcache_shared.cache.keys import CacheKey, Family
from tests.integration.builders import Scene
from tests.integration.cache_http.test_refill import declared_read

ROUTE = "/api/organizations"  # USER_ORGANIZATIONS: one entry per user
PER_LOAD = 0.15  # seconds: a slow load (a warm on a busy host, an analytics page)


async def _leases_held(redis: Redis, keyspace: Any, users: list[uuid.UUID]) -> int:
    held = 0
    for user_id in users:
        fields = await redis.hkeys(keyspace.entry(CacheKey.of(Family.USER_ORGANIZATIONS, user_id)))
        held += sum(str(f, "utf-8").startswith(LEASE) for f in fields if isinstance(f, bytes))
    return held


async def test_a_reader_waits_for_its_lease_group_not_the_whole_batch(
    app: Any, client: httpx.AsyncClient, scene: Scene
) -> None:
    read = declared_read(ROUTE)
    loader = read.load
    assert loader is not None

    async def slow(
        session: AsyncSession, ids: Any, user_id: uuid.UUID, page: PageRequest | None
    ) -> BaseModel:
        await asyncio.sleep(PER_LOAD)
        return await loader(session, ids, user_id, page)

    targets: list[tuple[dict[str, uuid.UUID], uuid.UUID]] = [({}, scene.owner.id)]
    targets += [({}, uuid.uuid4()) for _ in range(15)]
    batch = asyncio.create_task(
        refill_reads(app.state.container, dataclasses.replace(read, load=slow), targets)
    )
    await asyncio.sleep(PER_LOAD / 3)  # the first group is leased and loading
    started = time.perf_counter()
    answer = await client.get(ROUTE, headers=scene.owner.headers)
    waited = time.perf_counter() - started
    endings = await batch

    assert answer.status_code == 200
    assert endings[0] is Ending.FILLED
    # its group's loads, with room for a slow machine; the whole batch would be 16 of them
    assert LEASE_GROUP <= 4
    assert waited < 6 * PER_LOAD, waited


@pytest.mark.parametrize("fault", ["failure", "not found"])
async def test_a_fault_mid_batch_leaves_no_lease_held(
    fault: str, app: Any, scene: Scene, redis: Redis, app_keyspace: Any
) -> None:
    read = declared_read(ROUTE)
    loader = read.load
    assert loader is not None
    users = [scene.owner.id, scene.admin.id, scene.member.id, scene.editor.id, scene.viewer.id]

    async def faulty(
        session: AsyncSession, ids: Any, user_id: uuid.UUID, page: PageRequest | None
    ) -> BaseModel:
        if user_id == users[1]:
            raise RuntimeError("the database went away") if fault == "failure" else NotFound("x")
        return await loader(session, ids, user_id, page)

    filling = refill_reads(
        app.state.container, dataclasses.replace(read, load=faulty), [({}, u) for u in users]
    )
    if fault == "failure":
        with pytest.raises(RuntimeError):
            await filling
    else:
        endings = await filling
        assert endings[1] is Ending.NOT_VISIBLE
        assert endings[0] is endings[2] is Ending.FILLED
    assert await _leases_held(redis, app_keyspace, users) == 0


async def test_batch_standings_are_the_single_rules_for_every_pair(app: Any, scene: Scene) -> None:
    """Every (person, resource) of the scene, with a user and resources that do not exist and
    pairs asked twice: the batch's record, or its absence, is the single loader's."""
    container = app.state.container
    people = [scene.owner, scene.admin, scene.member, scene.editor, scene.viewer]
    users = [p.id for p in (*people, scene.outsider, scene.platform_admin)] + [uuid.uuid4()]
    resources = {
        "org": [scene.org_id, uuid.uuid4()],
        "team": [scene.team_id, uuid.uuid4()],
        "study": [scene.study_id, uuid.uuid4()],
    }
    for kind, ids in resources.items():
        pairs = [(u, r) for u in users for r in ids]
        async with container.read_sessions() as session:
            batch = await load_standings(session, kind, pairs + pairs[:3])
        for user_id, resource_id in pairs:
            async with container.read_sessions() as session:
                try:
                    single: bytes | None = await STANDING_OF[kind](resource_id).loader(
                        session, user_id
                    )()
                except DomainError:
                    single = None
            assert batch.get((user_id, resource_id)) == single, (kind, user_id, resource_id)
        assert any(batch.values()), kind
