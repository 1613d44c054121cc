"""`refill` (one entry) and `refill_reads` (a batch, as a warm fills) fill a declared read
through its declared loader: the next GET is a HIT with the very bytes the endpoint would have
loaded; a loader's 404 stores nothing and raises nothing. `refill_users` fills the `user`
field of those who exist."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from redis.asyncio import Redis

from collabcache_api.caching.access_records import user_slot
from collabcache_api.caching.reads import CachedRead, declared
from collabcache_api.caching.refill import refill, refill_reads, refill_users
from collabcache_api.main import ROUTERS
from collabcache_shared.cache.batch import Ending
from collabcache_shared.cache.manager import Outcome
from collabcache_shared.cache.store import FillResult
from tests.integration.builders import Scene
from tests.integration.cache_http.endpoints import CACHED_GETS, CachedGet

REFILLED = [g for g in CACHED_GETS if g.route != "/api/admin/system-stats"]
# Pages (a standing is filled by `refill_standings`, tests/integration/warming).
PAGES = [g for g in REFILLED if not g.route.endswith("/permissions")]


def declared_read(route: str) -> CachedRead:
    for r in (r for router in ROUTERS for r in router.routes):
        if isinstance(r, APIRoute) and r.path == route and "GET" in (r.methods or ()):
            read = declared(r.endpoint)
            assert read is not None, route
            return read
    raise AssertionError(f"no GET {route}")


def ids_of(scene: Scene) -> dict[str, uuid.UUID]:
    return {"org_id": scene.org_id, "team_id": scene.team_id, "study_id": scene.study_id}


@pytest.mark.parametrize("get", REFILLED, ids=lambda g: g.family.value)
async def test_a_refilled_read_is_then_a_hit_with_the_loaded_bytes(
    get: CachedGet, app: Any, client: httpx.AsyncClient, scene: Scene
) -> None:
    container = app.state.container
    read = declared_read(get.route)
    caller = get.caller(scene)

    first = await refill(container, read, ids_of(scene), caller.id)
    assert first is not None and first.outcome is Outcome.MISS
    assert first.fill is FillResult.STORED
    again = await refill(container, read, ids_of(scene), caller.id)
    assert again is not None and again.outcome is Outcome.HIT

    await assert_a_hit_as_loaded(client, get.path(scene), caller.headers)


async def assert_a_hit_as_loaded(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    """The GET is a HIT with the body a load (no-cache) gives."""
    hit = await client.get(path, headers=headers)
    assert hit.status_code == 200, hit.text
    assert hit.headers["x-cache"] == "HIT"
    fresh = await client.get(path, headers={**headers, "cache-control": "no-cache"})
    assert without_moment(fresh) == without_moment(hit)


def without_moment(response: httpx.Response) -> object:
    """The body, less the analytics' `generated_at` (the moment it was computed)."""
    body = response.json()
    if isinstance(body, dict):
        body.pop("generated_at", None)
    return body if "generated_at" in response.text else response.content


async def test_a_refused_load_stores_nothing_and_raises_nothing(
    app: Any, scene: Scene, redis: Redis, app_keyspace: Any
) -> None:
    """The team's members, loaded for an outsider: 404 from the loader, no entry."""
    get = next(g for g in CACHED_GETS if g.route == "/api/teams/{team_id}/members")
    read = declared_read(get.route)
    container = app.state.container

    assert await refill(container, read, ids_of(scene), scene.outsider.id) is None
    assert not await redis.exists(get.redis_key(app_keyspace, scene))


@pytest.mark.parametrize("get", PAGES, ids=lambda g: g.family.value)
async def test_a_batch_refilled_read_is_then_a_hit_with_the_loaded_bytes(
    get: CachedGet, app: Any, client: httpx.AsyncClient, scene: Scene
) -> None:
    """The same entry twice in a batch is filled once; the GET then hits, as the cold one."""
    container = app.state.container
    read = declared_read(get.route)
    caller = get.caller(scene)
    target = (ids_of(scene), caller.id)

    assert await refill_reads(container, read, [target, target]) == [Ending.FILLED] * 2
    assert await refill_reads(container, read, [target]) == [Ending.FRESH]

    await assert_a_hit_as_loaded(client, get.path(scene), caller.headers)


async def test_a_batch_refused_load_stores_nothing_and_raises_nothing(
    app: Any, scene: Scene, redis: Redis, app_keyspace: Any
) -> None:
    """The team's members, loaded for an outsider: NOT_VISIBLE, no entry."""
    team = next(g for g in CACHED_GETS if g.route == "/api/teams/{team_id}/members")
    container = app.state.container

    endings = await refill_reads(
        container, declared_read(team.route), [(ids_of(scene), scene.outsider.id)]
    )
    assert endings == [Ending.NOT_VISIBLE]
    assert not await redis.exists(team.redis_key(app_keyspace, scene))


async def test_refill_users_fills_the_user_field_of_those_who_exist(app: Any, scene: Scene) -> None:
    container = app.state.container
    ghost = uuid.uuid4()

    endings = await refill_users(container, [scene.member.id, ghost])

    assert endings == [Ending.FILLED, Ending.NOT_VISIBLE]
    found = await container.cache.lookup([user_slot(scene.member.id), user_slot(ghost)])
    assert found[0].entry is not None and found[1].entry is None
    assert await refill_users(container, [scene.member.id]) == [Ending.FRESH]
