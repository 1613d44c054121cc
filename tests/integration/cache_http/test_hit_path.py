"""The hit path (README, "The hit path"): a cache hit of a declared read is answered in front
of FastAPI, byte for byte as the endpoint answers it (headers, ETag, 304, the cache event),
without FastAPI's routing, dependencies or a database session; everything else falls through
to FastAPI unchanged, a miss handing on its lookup rather than repeating it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from collabcache_api.access import StudyRoles
from collabcache_api.main import create_app
from collabcache_api.models import OrgRole, StudyRole
from collabcache_api.studies.service import permissions_of
from collabcache_shared.cache.entry import etag_of
from collabcache_shared.cache.keys import Family
from collabcache_shared.settings import ApiSettings, RedisSettings
from tests.integration.builders import Builder, Person, Scene
from tests.integration.cache_http.endpoints import CACHED_GETS, CachedGet
from tests.integration.cache_http.layers import hit_path_of

# The admin read checks the platform-admin flag in the database on every request: FastAPI's.
DECLARED = [g for g in CACHED_GETS if g.family is not Family.SYSTEM_STATS]
BYPASS_LAYER = {"via": "fastapi"}  # a parameter the hit path does not read: it falls through


def _comparable(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in {"date"}}
    return response.status_code, response.content, headers


@pytest.mark.parametrize("get", DECLARED, ids=[g.route for g in DECLARED])
async def test_a_hit_is_answered_in_front_of_fastapi_as_fastapi_answers_it(
    app: Any, client: httpx.AsyncClient, scene: Scene, get: CachedGet
) -> None:
    caller, path = get.caller(scene), get.path(scene)
    first = await client.get(path, headers=caller.headers)
    layer = hit_path_of(app)
    assert first.headers["x-cache"] == "MISS"
    fastapi_hit = await client.get(path, params=BYPASS_LAYER, headers=caller.headers)
    assert fastapi_hit.headers["x-cache"] == "HIT"
    served = layer.served

    hit = await client.get(path, headers=caller.headers)
    not_modified = await client.get(
        path, headers={**caller.headers, "If-None-Match": hit.headers["etag"]}
    )
    fastapi_304 = await client.get(
        path, params=BYPASS_LAYER, headers={**caller.headers, "If-None-Match": hit.headers["etag"]}
    )

    assert layer.served == served + 2  # the hit and the 304, not the bypassed ones
    assert _comparable(hit) == _comparable(fastapi_hit)
    assert not_modified.status_code == 304
    assert _comparable(not_modified) == _comparable(fastapi_304)


async def test_repeated_header_lines_are_read_as_fastapi_reads_them(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    """Two If-None-Match lines, the matching one last: both read the first (Starlette's
    `Headers.get`), so both answer 200."""
    path = f"/api/organizations/{scene.org_id}/members"
    auth = list(scene.owner.headers.items())
    etag = (await client.get(path, headers=auth)).headers["etag"]
    both = [*auth, ("if-none-match", '"other"'), ("if-none-match", etag)]

    hit = await client.get(path, headers=both)
    fastapi = await client.get(path, params=BYPASS_LAYER, headers=both)

    assert hit.headers["x-cache"] == fastapi.headers["x-cache"] == "HIT"
    assert hit.status_code == fastapi.status_code == 200


# Who asks GET .../permissions, and their roles (study, organization): every way to see a study.
ASKERS = {
    "owner": (StudyRole.OWNER, OrgRole.OWNER),
    "admin": (None, OrgRole.ADMIN),
    "editor": (StudyRole.EDITOR, OrgRole.MEMBER),
    "viewer": (StudyRole.VIEWER, OrgRole.MEMBER),
    "guest": (StudyRole.VIEWER, None),  # a collaborator outside the organization
}


@pytest.mark.parametrize("asker", list(ASKERS))
async def test_permissions_from_the_compact_record_are_the_domains_everywhere(
    app: Any,
    client: httpx.AsyncClient,
    uncached_client: httpx.AsyncClient,
    scene: Scene,
    build: Builder,
    asker: str,
) -> None:
    """GET .../permissions renders the standing record: the miss, FastAPI's hit, the hit path's
    hit and the cache-off answer are the domain's `PermissionsPublic` of the caller's roles,
    byte for byte, with the same strong ETag (header for header between the two hits)."""
    caller: Person = getattr(scene, asker, None) or await build.user("guest")
    if asker == "guest":
        await build.collaborator(scene.study_id, caller, "viewer")
    path = f"/api/collaboration/studies/{scene.study_id}/permissions"
    expected = permissions_of(
        StudyRoles(*ASKERS[asker]), study_id=scene.study_id, user_id=caller.id
    )
    body = expected.model_dump_json().encode()

    miss = await client.get(path, headers=caller.headers)
    fastapi_hit = await client.get(path, params=BYPASS_LAYER, headers=caller.headers)
    served = hit_path_of(app).served
    hit = await client.get(path, headers=caller.headers)
    uncached = await uncached_client.get(path, headers=caller.headers)

    assert hit_path_of(app).served == served + 1
    assert [a.headers["x-cache"] for a in (miss, fastapi_hit, hit)] == ["MISS", "HIT", "HIT"]
    assert _comparable(hit) == _comparable(fastapi_hit)
    for answer in (miss, fastapi_hit, hit, uncached):
        assert (answer.status_code, answer.content) == (200, body)
        assert answer.headers["etag"] == f'"{etag_of(body)}"'


async def test_what_the_hit_path_does_not_answer_falls_through(
    app: Any, client: httpx.AsyncClient, scene: Scene
) -> None:
    members = f"/api/organizations/{scene.org_id}/members"
    await client.get(members, headers=scene.owner.headers)  # filled
    await client.get(members, headers=scene.outsider.headers)  # the outsider's refusal cached
    layer = hit_path_of(app)
    served = layer.served
    answers = {
        "refresh": await client.get(
            members, headers={**scene.owner.headers, "Cache-Control": "no-cache"}
        ),
        "refused standing": await client.get(members, headers=scene.outsider.headers),
        "no token": await client.get(members),
        "foreign token": await client.get(members, headers={"Authorization": "Bearer x.y.z"}),
        "basic auth": await client.get(members, headers={"Authorization": "Basic eDp5"}),
        "id not canonical": await client.get(
            members.replace(str(scene.org_id), str(scene.org_id).upper()),
            headers=scene.owner.headers,
        ),
        "limit out of range": await client.get(
            members, params={"limit": "500"}, headers=scene.owner.headers
        ),
        "a foreign cursor": await client.get(
            members, params={"cursor": "nope"}, headers=scene.owner.headers
        ),
        "a new page (miss)": await client.get(
            members, params={"limit": "7"}, headers=scene.owner.headers
        ),
    }
    assert layer.served == served, "the hit path answered one of them"
    statuses = {name: a.status_code for name, a in answers.items()}
    assert statuses == {
        "refresh": 200,
        "refused standing": 404,
        "no token": 401,
        "foreign token": 401,
        "basic auth": 401,
        "id not canonical": 200,
        "limit out of range": 422,
        "a foreign cursor": 400,
        "a new page (miss)": 200,
    }
    assert answers["refresh"].headers["x-cache"] == "MISS"
    assert answers["a new page (miss)"].headers["x-cache"] == "MISS"


async def test_a_miss_hands_its_lookup_on_and_a_hit_reports_its_route(
    app: Any, client: httpx.AsyncClient, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, sink = app.state.container.cache, app.state.container.cache_events
    lookups: list[object] = []
    recorded: list[tuple[Any, ...]] = []
    real_lookup, real_record = cache.lookup, sink.record

    async def counted_lookup(slots: Any) -> Any:
        lookups.append(slots)
        return await real_lookup(slots)

    def noted(*args: Any) -> None:
        recorded.append(args)
        real_record(*args)

    monkeypatch.setattr(cache, "lookup", counted_lookup)
    monkeypatch.setattr(sink, "record", noted)
    teams = f"/api/organizations/{scene.org_id}/teams"
    miss = await client.get(teams, headers=scene.owner.headers)
    assert (miss.headers["x-cache"], len(lookups)) == ("MISS", 1)
    hit = await client.get(teams, headers=scene.owner.headers)
    assert (hit.headers["x-cache"], len(lookups)) == ("HIT", 2)
    endpoints = [(r[0], r[2]) for r in recorded]
    assert endpoints == [("/api/organizations/{org_id}/teams", o) for o in ("MISS", "HIT")]


async def test_with_redis_unusable_a_read_asks_it_once(
    app: Any, client: httpx.AsyncClient, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hit path's failed lookup is handed on: FastAPI answers BYPASS without asking Redis
    (and waiting for its timeouts) a second time."""
    cache = app.state.container.cache
    lookups: list[object] = []

    async def unusable(slots: Any) -> None:
        lookups.append(slots)
        return None

    monkeypatch.setattr(cache, "lookup", unusable)
    answer = await client.get("/api/organizations", headers=scene.owner.headers)
    assert (answer.status_code, answer.headers["x-cache"], len(lookups)) == (200, "BYPASS", 1)


async def test_what_the_skipped_layers_would_refuse_falls_through_to_them(
    api_settings: ApiSettings, redis_settings: RedisSettings, scene: Scene
) -> None:
    """The hit path sits around the whole stack: a Host the API does not serve gets the
    HostCheck's 400, a GET with a body goes to FastAPI, and a hit still carries the CORS
    middleware's headers for an allowed origin."""
    settings = api_settings.model_copy(
        update={"allowed_hosts": ["api.example.org"], "cors_origins": ["https://app.example.org"]}
    )
    application = create_app(settings, redis_settings)
    members = f"/api/organizations/{scene.org_id}/members"
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.example.org") as c:
            first = await c.get(members, headers=scene.owner.headers)
            layer = hit_path_of(application)
            served = layer.served
            cross_origin = await c.get(
                members, headers={**scene.owner.headers, "Origin": "https://app.example.org"}
            )
            assert (cross_origin.headers["x-cache"], layer.served) == ("HIT", served + 1)
            foreign_host = await c.get(
                members, headers={**scene.owner.headers, "Host": "evil.example.com"}
            )
            with_body = await c.request("GET", members, headers=scene.owner.headers, content=b"{}")
    assert first.headers["x-cache"] == "MISS"
    assert cross_origin.headers["access-control-allow-origin"] == "https://app.example.org"
    assert "X-Cache" in cross_origin.headers["access-control-expose-headers"]
    assert cross_origin.headers["x-frame-options"] == "DENY"
    assert foreign_host.status_code == 400
    assert with_body.headers["x-cache"] == "HIT"  # FastAPI's answer: the same entry
    assert layer.served == served + 1, "the hit path answered what it should have passed on"
