"""Bounded entries (README, "The fenced cache protocol"): a flood of distinct page variants
or of unknown resource ids cannot grow an entry without bound, and a fill never pushes an
entry's expiry past its family TTL counted from its first fill."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from redis.asyncio import Redis

from collabcache_api.pagination import encode_cursor
from collabcache_shared.cache.entry import DATA
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.settings import CacheSettings
from tests.integration.builders import Builder

LIMIT = CacheSettings().max_entry_fields


async def test_a_cursor_and_limit_flood_leaves_the_entry_bounded(
    client: httpx.AsyncClient, build: Builder, redis: Redis, app_keyspace: KeySpace
) -> None:
    s = await build.scene()
    path = f"/api/organizations/{s.org_id}/members"
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    forged = [encode_cursor(moment + timedelta(seconds=i), uuid.uuid4()) for i in range(60)]
    for cursor in forged:
        response = await client.get(path, params={"cursor": cursor}, headers=s.owner.headers)
        assert response.status_code in {200, 400}, response.text
    for limit in range(1, 61):
        response = await client.get(path, params={"limit": limit}, headers=s.owner.headers)
        assert response.status_code == 200 and response.headers["x-cache"] in {"MISS", "HIT"}
    entry = app_keyspace.entry(CacheKey.of(Family.ORGANIZATION_MEMBERS, s.org_id))
    assert 4 <= await redis.hlen(entry) <= LIMIT
    again = await client.get(path, params={"limit": 60}, headers=s.owner.headers)
    assert again.status_code == 200  # a variant with no room is answered, just not stored


async def test_refusals_of_unknown_organizations_are_not_cached(
    client: httpx.AsyncClient, build: Builder, redis: Redis, app_keyspace: KeySpace
) -> None:
    s = await build.scene()
    own = await client.get(f"/api/organizations/{s.org_id}/members", headers=s.owner.headers)
    assert own.status_code == 200
    entry = app_keyspace.entry(CacheKey.of(Family.USER_PERMISSIONS, s.owner.id))
    before = await redis.hlen(entry)
    probes = [f"/api/organizations/{uuid.uuid4()}/members" for _ in range(40)]
    answers = await asyncio.gather(*(client.get(p, headers=s.owner.headers) for p in probes))
    assert {a.status_code for a in answers} == {404}
    assert await redis.hlen(entry) == before


async def test_a_later_fill_never_extends_the_entry_expiry(
    client: httpx.AsyncClient, build: Builder, redis: Redis, app_keyspace: KeySpace
) -> None:
    s = await build.scene()
    path = f"/api/organizations/{s.org_id}/members"
    await client.get(path, headers=s.owner.headers)
    entry = app_keyspace.entry(CacheKey.of(Family.ORGANIZATION_MEMBERS, s.org_id))
    first = await redis.pttl(entry)
    await asyncio.sleep(0.3)
    await client.get(path, params={"limit": 3}, headers=s.owner.headers)  # another variant
    assert await redis.hexists(entry, DATA + "3:")
    assert await redis.pttl(entry) <= first - 250
