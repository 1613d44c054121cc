"""A user's standings are filled in batches (one lookup, one round trip of leases, one query,
one round trip of fills): each record is the bytes the one-at-a-time loader gives, and a write
that commits between the batch's leases and its fills has those fills refused."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from collabcache_api.caching.access_records import STANDING_OF, decode_org_standing
from collabcache_api.caching.refill import refill_standings
from collabcache_api.models import OrgRole
from collabcache_shared.cache.batch import Ending
from collabcache_shared.cache.entry import DATA, Entry
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.settings import ApiSettings, RedisSettings
from tests.integration.warming.rows import fetch, headers_of

KIND_QUERIES = {
    "org": "SELECT organization_id FROM organization_members WHERE user_id = $1",
    "team": "SELECT t.id FROM teams t JOIN organization_members m"
    " ON m.organization_id = t.organization_id WHERE m.user_id = $1",
    "study": "SELECT id FROM studies",  # some visible, some not
}


async def test_batched_standings_are_the_single_loaders_bytes(
    warm_app: tuple[FastAPI, httpx.AsyncClient],
    warm_db: str,
    warm_redis: RedisSettings,
    redis: Redis,
) -> None:
    """Two users' standings on each kind in one batch: each record is the one-at-a-time
    loader's bytes, and a resource the user may not see is NOT_VISIBLE, with nothing stored."""
    container = warm_app[0].state.container
    members = await fetch(warm_db, "SELECT DISTINCT user_id FROM organization_members")
    users = [members[0][0], members[-1][0]]
    keys = KeySpace(prefix=warm_redis.key_prefix)
    for kind, sql in KIND_QUERIES.items():
        pairs = [
            (user_id, r[0])
            for user_id in users
            for r in await fetch(warm_db, sql, *([user_id] if "$1" in sql else []))
        ]
        endings = await refill_standings(container, kind, pairs)
        assert Ending.FILLED in endings, kind
        for (user_id, rid), ending in zip(pairs, endings, strict=True):
            standing = STANDING_OF[kind](rid)
            key = keys.entry(CacheKey.of(Family.USER_PERMISSIONS, user_id))
            raw = await redis.hget(key, DATA + standing.slot(user_id).variant)
            async with container.read_sessions() as session:
                try:
                    expected: bytes | None = await standing.loader(session, user_id)()
                except Exception:
                    expected = None
            if expected is None:
                assert ending is Ending.NOT_VISIBLE and raw is None, (kind, rid)
                continue
            entry = Entry.decode(raw) if isinstance(raw, bytes) else None
            assert ending is Ending.FILLED and entry is not None, (kind, rid)
            assert entry.body == expected, (kind, rid)
        assert set(await refill_standings(container, kind, pairs)) <= {
            Ending.FRESH,
            Ending.NOT_VISIBLE,
        }


async def test_a_write_between_a_batchs_leases_and_its_fills_has_them_refused(
    warm_app: tuple[FastAPI, httpx.AsyncClient], warm_db: str, warm_settings: ApiSettings
) -> None:
    """While a member's standings on their organizations are loaded, the owner makes them an
    admin: nothing of the batch is stored, and the next read answers the new role."""
    app, client = warm_app
    org_id, owner_id, member_id = (
        await fetch(
            warm_db,
            "SELECT o.organization_id, o.user_id, m.user_id FROM organization_members o"
            " JOIN organization_members m ON m.organization_id = o.organization_id"
            " WHERE o.role = 'owner' AND m.role = 'member' LIMIT 1",
        )
    )[0]
    orgs = [r[0] for r in await fetch(warm_db, KIND_QUERIES["org"], member_id)]
    promoted: list[int] = []

    async def promote() -> None:
        changed = await client.patch(
            f"/api/organizations/{org_id}/members/{member_id}",
            json={"role": "admin"},
            headers=headers_of(owner_id, warm_settings),
        )
        promoted.append(changed.status_code)

    pairs = [(member_id, org) for org in orgs]
    endings = await refill_standings(app.state.container, "org", pairs, promote)

    assert promoted == [200]
    teams = await client.get(
        f"/api/organizations/{org_id}/teams", headers=headers_of(member_id, warm_settings)
    )
    assert teams.status_code == 200
    permissions = STANDING_OF["org"](org_id).slot(member_id)
    cache = app.state.container.cache
    found = (await cache.lookup([permissions]))[0]
    assert found.entry is not None and decode_org_standing(found.entry.body) is OrgRole.ADMIN
    assert endings[orgs.index(org_id)] is Ending.REFUSED
