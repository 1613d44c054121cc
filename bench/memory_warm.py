"""Warming the cache through the real API for `bench.memory`: which scopes, which viewer, which
path per cached family, and every page of each (the worst case: all variants cached).

The viewer of an organization's, team's or study's data is an owner of its organization (who
may see all of it); a user's own lists are read with that user's token; the system stats with
the platform administrator's.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from collabcache_shared.cache.keys import Family

# family -> (scope kind, path template: `{}` is the scope id)
PATHS: dict[Family, tuple[str, str]] = {
    Family.ORGANIZATION_MEMBERS: ("org", "/api/organizations/{}/members"),
    Family.ORGANIZATION_TEAMS: ("org", "/api/organizations/{}/teams"),
    Family.ORGANIZATION_ANALYTICS: ("org", "/api/organizations/{}/analytics"),
    Family.TEAM_MEMBERS: ("team", "/api/teams/{}/members"),
    Family.TEAM_ANALYTICS: ("team", "/api/teams/{}/analytics"),
    Family.STUDY_COMMENTS: ("study", "/api/collaboration/studies/{}/comments"),
    Family.STUDY_COLLABORATORS: ("study", "/api/collaboration/studies/{}/collaborators"),
    Family.STUDY_ACTIVITY: ("study", "/api/collaboration/studies/{}/activity"),
    Family.USER_ORGANIZATIONS: ("user", "/api/organizations"),
    Family.USER_COLLABORATIVE_STUDIES: ("user", "/api/collaboration/studies"),
    Family.SYSTEM_STATS: ("global", "/api/admin/system-stats"),
}
# A standing (a field of the user's USER_PERMISSIONS entry) is read through these.
GLOBAL_SCOPE = uuid.UUID(int=0)  # stands for the one entry of a family without identifiers
STANDING_PATHS = {
    "org": "/api/organizations/{}/teams",
    "team": "/api/teams/{}/members",
    "study": "/api/collaboration/studies/{}/permissions",
}


COUNTED_TABLES = (
    *("users", "organizations", "organization_members", "teams", "team_members"),
    *("studies", "study_collaborators", "comments", "activity"),
)
VISIBLE_STUDIES = """
SELECT count(*) FROM (
  SELECT user_id, study_id FROM study_collaborators
  UNION
  SELECT m.user_id, s.id FROM organization_members m
  JOIN studies s ON s.organization_id = m.organization_id WHERE m.role IN ('owner', 'admin')
) AS visible
"""


@dataclass
class Dataset:
    counts: dict[str, int]
    users: list[uuid.UUID]
    admin: uuid.UUID
    org_owner: dict[uuid.UUID, uuid.UUID]  # org -> an owner
    team_org: dict[uuid.UUID, uuid.UUID]
    study_org: dict[uuid.UUID, uuid.UUID]
    memberships: dict[uuid.UUID, list[uuid.UUID]]  # user -> their orgs
    visible_studies_per_user: float  # collaborations, and every study of orgs they manage

    def scopes(self, kind: str) -> list[uuid.UUID]:
        if kind == "org":
            return list(self.org_owner)
        if kind == "team":
            return list(self.team_org)
        if kind == "study":
            return list(self.study_org)
        return self.users if kind == "user" else [GLOBAL_SCOPE]

    def viewer(self, kind: str, scope: uuid.UUID) -> uuid.UUID:
        if kind == "user":
            return scope
        if kind == "global":
            return self.admin
        if kind == "org":
            return self.org_owner[scope]
        return self.org_owner[(self.team_org if kind == "team" else self.study_org)[scope]]

    def standings_of(self, user: uuid.UUID) -> dict[str, list[uuid.UUID]]:
        """Every standing the user may come to hold: their organizations, and every team and
        study of those (a study of their organization answers them even when they may not
        see it, and that refusal is cached too)."""
        orgs = set(self.memberships.get(user, []))
        return {
            "org": sorted(orgs),
            "team": sorted(t for t, o in self.team_org.items() if o in orgs),
            "study": sorted(s for s, o in self.study_org.items() if o in orgs),
        }

    def mean_standings_per_user(self) -> dict[str, float]:
        teams, studies = Counter(self.team_org.values()), Counter(self.study_org.values())
        totals: Counter[str] = Counter()
        for orgs in self.memberships.values():
            totals["org"] += len(orgs)
            totals["team"] += sum(teams[o] for o in orgs)
            totals["study"] += sum(studies[o] for o in orgs)
        return {kind: totals[kind] / len(self.users) for kind in STANDING_PATHS}


async def load_dataset(database_url: str) -> Dataset:
    conn = await asyncpg.connect(database_url)
    try:
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in COUNTED_TABLES
        }
        members = await conn.fetch(
            "SELECT organization_id, user_id, role FROM organization_members"
        )
        teams = await conn.fetch("SELECT id, organization_id FROM teams")
        studies = await conn.fetch("SELECT id, organization_id FROM studies")
        users = [r["id"] for r in await conn.fetch("SELECT id FROM users ORDER BY id")]
        admin = await conn.fetchval("SELECT id FROM users WHERE is_platform_admin LIMIT 1")
        visible = await conn.fetchval(VISIBLE_STUDIES)
    finally:
        await conn.close()
    owners: dict[uuid.UUID, uuid.UUID] = {}
    memberships: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for row in members:
        memberships[row["user_id"]].append(row["organization_id"])
        if row["role"] == "owner":
            owners.setdefault(row["organization_id"], row["user_id"])
    return Dataset(
        counts,
        users,
        admin,
        owners,
        {r["id"]: r["organization_id"] for r in teams},
        {r["id"]: r["organization_id"] for r in studies},
        dict(memberships),
        visible / len(users),
    )


@dataclass
class Warmer:
    """Concurrent GETs through the API, each with its viewer's bearer token."""

    client: httpx.AsyncClient
    concurrency: int = 8
    outcomes: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    _tokens: dict[uuid.UUID, str] = field(default_factory=dict)

    def _headers(self, user: uuid.UUID) -> dict[str, str]:
        if user not in self._tokens:
            from collabcache_api.security import issue_token
            from collabcache_shared.settings import AuthSettings

            self._tokens[user] = issue_token(user, AuthSettings())
        return {"Authorization": f"Bearer {self._tokens[user]}"}

    async def every_page(self, path: str, viewer: uuid.UUID, refused_ok: bool = False) -> None:
        params: dict[str, Any] = {}
        while True:
            response = await self.client.get(path, params=params, headers=self._headers(viewer))
            self.requests += 1
            if refused_ok and response.status_code == 404:
                self.outcomes["404"] += 1
                return
            response.raise_for_status()
            self.outcomes[response.headers.get("x-cache", "none")] += 1
            body = response.json()
            cursor = body.get("next_cursor") if isinstance(body, dict) else None
            if not cursor:
                return
            params = {"cursor": cursor}

    async def all(self, jobs: list[tuple[str, uuid.UUID]], refused_ok: bool = False) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(path: str, viewer: uuid.UUID) -> None:
            async with gate:
                await self.every_page(path, viewer, refused_ok)

        await asyncio.gather(*(one(path, viewer) for path, viewer in jobs))


def sample(items: list[uuid.UUID], n: int, rng: random.Random) -> list[uuid.UUID]:
    return list(items) if n >= len(items) else rng.sample(items, n)
