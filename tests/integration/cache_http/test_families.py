"""Every cached GET is stored under the registry's key, with its family's TTL, as a hash field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from collabcache_api.caching.access_records import encode_study_standing
from collabcache_api.models import OrgRole, StudyRole
from collabcache_shared.cache.entry import DATA, Entry, etag_of
from collabcache_shared.cache.keys import POLICIES, Family, KeySpace
from tests.integration.builders import Scene
from tests.integration.cache_http.endpoints import (
    CACHED_GETS,
    UNCACHED_GETS,
    CachedGet,
)


@pytest.mark.parametrize("get", CACHED_GETS, ids=lambda g: g.family.value)
async def test_first_get_fills_the_registry_key_and_the_second_hits(
    get: CachedGet,
    client: httpx.AsyncClient,
    scene: Scene,
    redis: Redis,
    app_keyspace: KeySpace,
    page_variant: str,
) -> None:
    key = get.redis_key(app_keyspace, scene)
    await redis.unlink(key)  # SYSTEM_STATS is platform-wide: another test may have warmed it
    headers = get.caller(scene).headers

    first = await client.get(get.path(scene), headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["x-cache"] == "MISS"

    ttl_ms = POLICIES[get.family].ttl.total_seconds() * 1000
    pttl = await redis.pttl(key)
    assert 0.9 * ttl_ms < pttl <= ttl_ms, (key, pttl, ttl_ms)
    raw = await redis.hget(key, get.field(scene, page_variant))
    assert isinstance(raw, bytes), f"no field {get.field(scene, page_variant)} in {key}"
    stored = Entry.decode(raw)
    assert stored is not None
    if get.family is Family.USER_PERMISSIONS:  # the study standing record (README, "Standing
        # records"), the response rendered from it with the ETag of what is rendered
        assert stored.body == encode_study_standing(StudyRole.OWNER, OrgRole.OWNER)
        assert (stored.etag, first.headers["etag"]) == ("", f'"{etag_of(first.content)}"')
    else:
        assert stored.body == first.content
        assert f'"{stored.etag}"' == first.headers["etag"]

    second = await client.get(get.path(scene), headers=headers)
    assert second.status_code == 200
    assert second.headers["x-cache"] == "HIT"
    assert second.headers["etag"] == first.headers["etag"]
    assert second.content == first.content


async def test_every_page_of_a_list_is_a_field_of_one_entry(
    client: httpx.AsyncClient, scene: Scene, redis: Redis, app_keyspace: KeySpace
) -> None:
    """Two pages of the members list live in one hash (one UNLINK drops both)."""
    path = f"/api/organizations/{scene.org_id}/members"
    first = await client.get(path, params={"limit": 2}, headers=scene.owner.headers)
    cursor = first.json()["next_cursor"]
    assert cursor
    second = await client.get(
        path, params={"limit": 2, "cursor": cursor}, headers=scene.owner.headers
    )
    assert second.headers["x-cache"] == "MISS"
    assert second.json()["items"] != first.json()["items"]
    key = next(g for g in CACHED_GETS if g.route.endswith("/members")).redis_key(
        app_keyspace, scene
    )
    fields = {f.decode() if isinstance(f, bytes) else f for f in await redis.hkeys(key)}
    assert {f"{DATA}2:", f"{DATA}2:{cursor}"} <= fields, fields


def test_every_family_of_the_registry_has_a_cached_endpoint() -> None:
    covered = {g.family for g in CACHED_GETS}
    assert covered == set(Family)
    assert len({g.route for g in CACHED_GETS}) == len(CACHED_GETS)


def _openapi_gets(app: Any) -> set[str]:
    return {path for path, ops in app.openapi()["paths"].items() if "get" in ops}


def test_the_table_lists_every_get_route_of_the_openapi(app: Any) -> None:
    """A new GET route must be added to CACHED_GETS (and so to every test here) or be
    declared uncached on purpose."""
    assert _openapi_gets(app) - UNCACHED_GETS == {g.route for g in CACHED_GETS}


async def test_every_get_route_except_me_answers_through_the_cache(
    app: Any, client: httpx.AsyncClient, scene: Scene
) -> None:
    params = {"org_id": scene.org_id, "team_id": scene.team_id, "study_id": scene.study_id}
    uncached = []
    for route in sorted(_openapi_gets(app)):
        caller = scene.platform_admin if route.startswith("/api/admin/") else scene.owner
        try:
            path = route.format(**params)
        except KeyError as missing:
            pytest.fail(f"{route}: no scene value for path parameter {missing}")
        response = await client.get(path, headers=caller.headers)
        assert response.status_code == 200, (route, response.text)
        if "x-cache" not in response.headers:
            uncached.append(route)
    assert uncached == sorted(UNCACHED_GETS)
