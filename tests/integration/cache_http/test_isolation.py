"""No leaks (README, "Consistency guarantees, in plain words"): no user ever receives a response
cached for another, and access is decided before any cached body is returned, on the very next
request after it changed."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from collabcache_shared.cache.keys import POLICIES, CacheKey, Family, KeySpace
from tests.integration.builders import Builder, Person, Scene
from tests.integration.cache_http.endpoints import BY_ROUTE, CACHED_GETS, STUDY

MINE = ["/api/organizations", "/api/collaboration/studies", STUDY + "/permissions"]
ORG_READS = [
    "/api/organizations/{org_id}/members",
    "/api/organizations/{org_id}/teams",
    "/api/organizations/{org_id}/analytics",
    "/api/teams/{team_id}/members",
    "/api/teams/{team_id}/analytics",
]
STUDY_READS = [STUDY + s for s in ("/collaborators", "/comments", "/activity", "/permissions")]


async def _warm(client: httpx.AsyncClient, path: str, who: Person) -> httpx.Response:
    await client.get(path, headers=who.headers)
    hit = await client.get(path, headers=who.headers)
    assert hit.status_code == 200, (path, hit.text)
    assert hit.headers["x-cache"] == "HIT", path
    return hit


def _path(route: str, s: Scene) -> str:
    return BY_ROUTE[route].path(s)


def test_user_specific_families_are_keyed_by_the_user() -> None:
    specific = {f for f, p in POLICIES.items() if p.user_specific}
    assert specific == {
        Family.USER_PERMISSIONS,
        Family.USER_ORGANIZATIONS,
        Family.USER_COLLABORATIVE_STUDIES,
    }
    for family in specific:
        assert POLICIES[family].id_count == 1 and "{}" in POLICIES[family].template
    assert {BY_ROUTE[r].family for r in MINE} == specific


async def test_keys_of_user_data_name_the_user(
    client: httpx.AsyncClient, build: Builder, redis: Redis, app_keyspace: KeySpace
) -> None:
    a, b = await build.scene(), await build.scene()
    for route in MINE:
        await _warm(client, _path(route, a), a.owner)
    keys = {k.decode() async for k in redis.scan_iter(match=f"{app_keyspace.root}:*{a.owner.id}*")}
    expected = {
        app_keyspace.entry(CacheKey.of(family, a.owner.id))
        for family in (
            Family.USER_ORGANIZATIONS,
            Family.USER_COLLABORATIVE_STUDIES,
            Family.USER_PERMISSIONS,
        )
    }
    assert keys == expected
    assert all(f"{{user:{a.owner.id}:" in k or "{permissions:" in k for k in keys)
    others = [k async for k in redis.scan_iter(match=f"{app_keyspace.root}:*{b.owner.id}*")]
    assert others == []  # nothing of A's was stored under B


async def test_another_user_never_gets_a_response_cached_for_the_first(
    client: httpx.AsyncClient, build: Builder
) -> None:
    a, b = await build.scene(), await build.scene()  # different organizations
    for route in MINE:
        mine = await _warm(client, _path(route, a), a.owner)
        theirs = await client.get(_path(route, b), headers=b.owner.headers)
        assert theirs.status_code == 200
        assert theirs.headers["x-cache"] == "MISS", route
        assert theirs.headers["etag"] != mine.headers["etag"]
        assert str(b.owner.id) in theirs.text or str(b.org_id) in theirs.text
        assert str(a.org_id) not in theirs.text and str(a.study_id) not in theirs.text
        # B presenting A's ETag revalidates nothing: B gets B's own body.
        again = await client.get(
            _path(route, b), headers={**b.owner.headers, "If-None-Match": mine.headers["etag"]}
        )
        assert again.status_code == 200 and again.content == theirs.content
    refused = await client.get(_path(STUDY + "/permissions", a), headers=b.owner.headers)
    assert refused.status_code == 404


async def test_members_of_one_organization_get_their_own_list(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    owner = await _warm(client, "/api/organizations", scene.owner)
    member = await client.get("/api/organizations", headers=scene.member.headers)
    assert member.headers["x-cache"] == "MISS"
    assert [o["role"] for o in owner.json()["items"]] == ["owner"]
    assert [o["role"] for o in member.json()["items"]] == ["member"]


@pytest.mark.parametrize("route", [g.route for g in CACHED_GETS if "{" in g.route])
async def test_access_is_checked_before_a_cached_body_is_returned(
    route: str, client: httpx.AsyncClient, scene: Scene
) -> None:
    """The owner warms the entry; an outsider, a platform admin (not a member) and, for a
    study, a member of the organization who does not collaborate on it, get 404, even when
    presenting the cached ETag."""
    path = _path(route, scene)
    warmed = await _warm(client, path, scene.owner)
    strangers = [scene.outsider, scene.platform_admin]
    if route.startswith(STUDY):
        strangers.append(scene.member)
    for who in strangers:
        for extra in ({}, {"If-None-Match": warmed.headers["etag"]}):
            response = await client.get(path, headers={**who.headers, **extra})
            assert response.status_code == 404, (route, who.email, extra)
            assert "x-cache" not in response.headers
            assert response.content != warmed.content


async def test_system_stats_cached_for_an_admin_are_refused_to_others(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    await _warm(client, "/api/admin/system-stats", scene.platform_admin)
    for who in (scene.owner, scene.outsider):
        assert (await client.get("/api/admin/system-stats", headers=who.headers)).status_code == 403


async def _all_warm(client: httpx.AsyncClient, routes: list[str], s: Scene, who: Person) -> None:
    for route in routes:
        await _warm(client, _path(route, s), who)


async def _all_refused(client: httpx.AsyncClient, routes: list[str], s: Scene, who: Person) -> None:
    for route in routes:
        response = await client.get(_path(route, s), headers=who.headers)
        assert response.status_code == 404, (route, response.headers.get("x-cache"))


async def test_a_removed_collaborator_loses_access_on_the_next_request(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    await _all_warm(client, STUDY_READS, scene, scene.editor)
    removed = await client.delete(
        f"/api/collaboration/studies/{scene.study_id}/collaborators/{scene.editor.id}",
        headers=scene.owner.headers,
    )
    assert removed.status_code == 204
    await _all_refused(client, STUDY_READS, scene, scene.editor)


async def test_a_removed_member_loses_the_organization_on_the_next_request(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    await _all_warm(client, ORG_READS, scene, scene.member)
    removed = await client.delete(
        f"/api/organizations/{scene.org_id}/members/{scene.member.id}",
        headers=scene.admin.headers,
    )
    assert removed.status_code == 204
    await _all_refused(client, ORG_READS, scene, scene.member)
    mine = await client.get("/api/organizations", headers=scene.member.headers)
    assert mine.json()["items"] == []


async def test_a_demoted_admin_loses_the_managers_view_of_studies(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    """The admin does not collaborate on the study: they saw it as an organization manager."""
    await _all_warm(client, STUDY_READS, scene, scene.admin)
    demoted = await client.patch(
        f"/api/organizations/{scene.org_id}/members/{scene.admin.id}",
        json={"role": "member"},
        headers=scene.owner.headers,
    )
    assert demoted.status_code == 200, demoted.text
    await _all_refused(client, STUDY_READS, scene, scene.admin)
    still = await client.get(
        f"/api/organizations/{scene.org_id}/members", headers=scene.admin.headers
    )
    assert still.status_code == 200  # still a member of the organization
