"""`refill` fills a declared read through its declared loader: the next GET is a HIT with the
very bytes the endpoint would have loaded; a loader's 404 stores nothing and raises nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from redis.asyncio import Redis

from collabcache_api.caching.reads import CachedRead, declared
from collabcache_api.caching.refill import refill
from collabcache_api.main import ROUTERS
from collabcache_shared.cache.manager import Outcome
from collabcache_shared.cache.store import FillResult
from tests.integration.builders import Scene
from tests.integration.cache_http.endpoints import CACHED_GETS, CachedGet

REFILLED = [g for g in CACHED_GETS if g.route != "/api/admin/system-stats"]


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

    hit = await client.get(get.path(scene), headers=caller.headers)
    assert hit.status_code == 200, hit.text
    assert hit.headers["x-cache"] == "HIT"
    fresh = await client.get(
        get.path(scene), headers={**caller.headers, "cache-control": "no-cache"}
    )
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
