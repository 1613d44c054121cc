"""HTTP semantics of cached responses: ETag, 304, Cache-Control, `no-cache`, only 200s cached."""

from __future__ import annotations

import re
import uuid

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from collabcache_api.caching.access_records import (
    Standing,
    org_standing,
    study_standing,
    team_standing,
)
from collabcache_shared.cache.entry import DATA, Entry
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from tests.integration.builders import Scene
from tests.integration.cache_http.endpoints import CACHED_GETS, CachedGet
from tests.integration.statements import StatementCounter

STRONG_ETAG = re.compile(r'^"[0-9a-f]{16}"$')


@pytest.mark.parametrize("get", CACHED_GETS, ids=lambda g: g.family.value)
async def test_etag_cache_control_and_304_on_miss_and_hit(
    get: CachedGet, client: httpx.AsyncClient, scene: Scene, redis: Redis, app_keyspace: KeySpace
) -> None:
    await redis.unlink(get.redis_key(app_keyspace, scene))
    path, headers = get.path(scene), get.caller(scene).headers
    miss = await client.get(path, headers=headers)
    hit = await client.get(path, headers=headers)
    assert [miss.headers["x-cache"], hit.headers["x-cache"]] == ["MISS", "HIT"]
    for response in (miss, hit):
        assert STRONG_ETAG.match(response.headers["etag"]), response.headers
        assert response.headers["cache-control"] == "private, no-cache"
    etag = hit.headers["etag"]

    revalidated = await client.get(path, headers={**headers, "If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert revalidated.headers["etag"] == etag
    assert revalidated.headers["cache-control"] == "private, no-cache"

    among_others = await client.get(path, headers={**headers, "If-None-Match": f'"0", {etag}'})
    assert among_others.status_code == 304

    # If-None-Match compares weakly (RFC 9110, 13.1.2): a weakened copy and `*` match too.
    for sent in (f"W/{etag}", "*", f'W/"0", W/{etag}'):
        weak = await client.get(path, headers={**headers, "If-None-Match": sent})
        assert weak.status_code == 304, sent

    other = await client.get(path, headers={**headers, "If-None-Match": '"0000000000000000"'})
    assert other.status_code == 200
    assert other.content == hit.content


async def test_no_cache_request_reads_the_database_and_refreshes_the_entry(
    client: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    path = f"/api/collaboration/studies/{scene.study_id}/comments"
    headers = scene.viewer.headers

    def bodies(response: httpx.Response) -> list[str]:
        return [c["body"] for c in response.json()["items"]]

    warm = await client.get(path, headers=headers)
    assert warm.headers["x-cache"] == "MISS"
    assert bodies(warm) == ["first comment"]

    # A change made behind the API's back: no invalidation happens.
    await db.execute(
        "UPDATE comments SET body = 'changed in the database' WHERE id = $1", scene.comment_id
    )
    cached = await client.get(path, headers=headers)
    assert cached.headers["x-cache"] == "HIT"
    assert bodies(cached) == ["first comment"]

    fresh = await client.get(path, headers={**headers, "Cache-Control": "no-cache"})
    assert fresh.status_code == 200
    assert fresh.headers["x-cache"] == "MISS"
    assert bodies(fresh) == ["changed in the database"]
    assert fresh.headers["etag"] != cached.headers["etag"]

    after = await client.get(path, headers=headers)
    assert after.headers["x-cache"] == "HIT"
    assert bodies(after) == ["changed in the database"]
    assert after.headers["etag"] == fresh.headers["etag"]


async def test_a_refused_request_caches_no_response(
    client: httpx.AsyncClient, scene: Scene, redis: Redis, app_keyspace: KeySpace
) -> None:
    """An outsider's 404 stores nothing: neither under the organization nor as a standing of
    theirs (a refusal is never cached: README, "Security")."""
    path = f"/api/organizations/{scene.org_id}/members"
    refused = await client.get(path, headers=scene.outsider.headers)
    assert refused.status_code == 404
    assert "x-cache" not in refused.headers and "etag" not in refused.headers

    members_key = app_keyspace.entry(CacheKey.of(Family.ORGANIZATION_MEMBERS, scene.org_id))
    assert not await redis.exists(members_key)
    org_keys = [k async for k in redis.scan_iter(match=f"{app_keyspace.root}:*{scene.org_id}*")]
    assert org_keys == []
    standing = org_standing(scene.org_id)
    assert await _standing(redis, app_keyspace, scene.outsider.id, standing) is None

    member = await client.get(path, headers=scene.member.headers)
    assert member.status_code == 200
    assert member.headers["x-cache"] == "MISS"  # nothing was stored by the refused request
    assert await _standing(redis, app_keyspace, scene.member.id, standing) == b"m"


async def test_a_missing_resource_is_refused_like_a_hidden_one(
    client: httpx.AsyncClient,
    scene: Scene,
    redis: Redis,
    app_keyspace: KeySpace,
    sql: StatementCounter,
) -> None:
    """An outsider cannot tell a study or team that does not exist from one they may not see:
    the same 404, by the same single query each time, and nothing cached for either (README,
    "Security")."""
    missing = uuid.uuid4()
    await client.get("/api/organizations", headers=scene.outsider.headers)  # they exist: cached
    pairs = {
        "study": ("/api/collaboration/studies/{}/comments", scene.study_id, study_standing),
        "team": ("/api/teams/{}/members", scene.team_id, team_standing),
    }
    for kind, (template, hidden, standing_on) in pairs.items():
        seen: dict[str, list[tuple[int, object, int]]] = {}
        for which, resource in (("hidden", hidden), ("missing", missing)):
            seen[which] = []
            for _ in range(3):
                sql.statements.clear()
                answer = await client.get(template.format(resource), headers=scene.outsider.headers)
                seen[which].append((answer.status_code, answer.json(), len(sql.statements)))
        assert seen["hidden"] == seen["missing"], kind
        assert {status for status, _, _ in seen["hidden"]} == {404}, kind
        assert {queries for _, _, queries in seen["hidden"]} == {1}, kind
        for resource in (hidden, missing):
            standing = standing_on(resource)
            assert await _standing(redis, app_keyspace, scene.outsider.id, standing) is None


async def _standing(
    redis: Redis, app_keyspace: KeySpace, user_id: uuid.UUID, standing: Standing
) -> bytes | None:
    """The user's stored standing record, or None."""
    slot = standing.slot(user_id)
    raw = await redis.hget(app_keyspace.entry(slot.key), DATA + slot.variant)
    if raw is None:
        return None
    assert isinstance(raw, bytes)
    entry = Entry.decode(raw)
    assert entry is not None
    return entry.body
