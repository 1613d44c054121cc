"""The workload: who calls what, drawn like a frontend would.

Users are ranked once, the most active first (by their rows in the activity table: who acts
most on the platform reads most of it; ties, and users with no activity, in a seeded shuffle),
and drawn by a Zipf law (the user ranked r weighs 1/r). Each call is one request of a
frontend-like mix: the organization dashboard (my organizations, members, teams, analytics),
the study page (collaborators, comments, activity, my permissions) and `WRITE_SHARE` writes:
comments, membership and collaborator role changes.

Writes are made by owners only (of the study or the organization) and only change roles of
non-owners between two non-owner roles, so no write ever takes a writer's own right away and
every write is allowed: errors in the figures are the server's, not the workload's.
"""

from __future__ import annotations

import random
import uuid
from bisect import bisect
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import asyncpg

ZIPF_EXPONENT = 1.0
WRITE_SHARE = 0.03
STUDY = "/api/collaboration/studies/{id}"
# Reads: (endpoint label, page, weight); the weights of the reads sum to 1 - WRITE_SHARE.
READS: tuple[tuple[str, str, float], ...] = (
    ("GET /api/organizations", "dashboard", 0.12),
    ("GET /api/organizations/{id}/members", "dashboard", 0.12),
    ("GET /api/organizations/{id}/teams", "dashboard", 0.10),
    ("GET /api/organizations/{id}/analytics", "dashboard", 0.10),
    (f"GET {STUDY}/collaborators", "study", 0.12),
    (f"GET {STUDY}/comments", "study", 0.18),
    (f"GET {STUDY}/activity", "study", 0.10),
    (f"GET {STUDY}/permissions", "study", 0.13),
)
WRITES: tuple[tuple[str, float], ...] = (
    (f"POST {STUDY}/comments", 0.5),
    ("PATCH /api/organizations/{id}/members/{member}", 0.25),
    (f"PATCH {STUDY}/collaborators/{{member}}", 0.25),
)
ANALYTICS = "GET /api/organizations/{id}/analytics"


@dataclass(frozen=True, slots=True)
class Call:
    endpoint: str  # the route, with ids as placeholders: what the figures group by
    method: str
    path: str
    user: uuid.UUID
    body: dict[str, Any] | None = None

    @property
    def writes(self) -> bool:
        return self.method != "GET"


class Zipf:
    """Indexes 0..n-1, index r drawn with weight 1/(r+1)**s."""

    def __init__(self, n: int, exponent: float = ZIPF_EXPONENT) -> None:
        self.cumulative = list(accumulate(1 / (r + 1) ** exponent for r in range(n)))

    def draw(self, rng: random.Random) -> int:
        return min(bisect(self.cumulative, rng.random() * self.cumulative[-1]), len(self) - 1)

    def __len__(self) -> int:
        return len(self.cumulative)


@dataclass
class RoleToggle:
    """A non-owner whose role an owner flips between two roles, write after write."""

    scope: uuid.UUID  # organization or study
    owner: uuid.UUID
    member: uuid.UUID
    roles: tuple[str, str]
    current: str

    def flip(self) -> str:
        self.current = self.roles[1] if self.current == self.roles[0] else self.roles[0]
        return self.current


@dataclass
class Dataset:
    users: list[uuid.UUID]  # in Zipf rank order: the first is the busiest
    orgs_of: dict[uuid.UUID, list[uuid.UUID]]
    studies_of: dict[uuid.UUID, list[uuid.UUID]]
    teams_of: dict[uuid.UUID, list[uuid.UUID]]
    owned_studies: list[tuple[uuid.UUID, uuid.UUID]]  # (study, owner), busiest owners first
    member_toggles: list[RoleToggle]
    collaborator_toggles: list[RoleToggle]
    counts: dict[str, int] = field(default_factory=dict)


async def snapshot(database_url: str, seed: int = 7) -> Dataset:
    """Who belongs where, read once from the seeded database."""
    conn = await asyncpg.connect(database_url)
    try:
        users = [r["id"] for r in await conn.fetch("SELECT id FROM users ORDER BY id")]
        members = await conn.fetch(
            "SELECT organization_id, user_id, role FROM organization_members"
        )
        collaborators = await conn.fetch("SELECT study_id, user_id, role FROM study_collaborators")
        teams = await conn.fetch("SELECT id, organization_id FROM teams")
        activity = {
            r["actor_id"]: r["n"]
            for r in await conn.fetch(
                "SELECT actor_id, count(*) AS n FROM activity"
                " WHERE actor_id IS NOT NULL GROUP BY actor_id"
            )
        }
        counts = {
            table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
            for table in ("organizations", "users", "teams", "studies", "comments")
        }
    finally:
        await conn.close()
    random.Random(seed).shuffle(users)
    users.sort(key=lambda user: -activity.get(user, 0))  # stable: the shuffle breaks ties
    rank = {user: index for index, user in enumerate(users)}
    orgs_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    studies_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    teams_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    for m in members:
        orgs_of.setdefault(m["user_id"], []).append(m["organization_id"])
    for c in collaborators:
        studies_of.setdefault(c["user_id"], []).append(c["study_id"])
    for t in teams:
        teams_of.setdefault(t["organization_id"], []).append(t["id"])
    return Dataset(
        users=users,
        orgs_of=orgs_of,
        studies_of=studies_of,
        teams_of=teams_of,
        owned_studies=sorted(
            ((c["study_id"], c["user_id"]) for c in collaborators if c["role"] == "owner"),
            key=lambda pair: rank[pair[1]],
        ),
        member_toggles=_toggles(members, "organization_id", ("member", "admin"), rank),
        collaborator_toggles=_toggles(collaborators, "study_id", ("viewer", "editor"), rank),
        counts=counts,
    )


def _toggles(
    rows: list[asyncpg.Record], scope: str, roles: tuple[str, str], rank: dict[uuid.UUID, int]
) -> list[RoleToggle]:
    owners: dict[uuid.UUID, uuid.UUID] = {}
    for row in rows:
        if row["role"] == "owner":
            owners.setdefault(row[scope], row["user_id"])
    toggles = [
        RoleToggle(row[scope], owners[row[scope]], row["user_id"], roles, row["role"])
        for row in rows
        if row["role"] in roles and row[scope] in owners
    ]
    return sorted(toggles, key=lambda t: rank[t.owner])


class Mix:
    """Draws calls; the same seed gives the same sequence (given the same role state)."""

    def __init__(self, data: Dataset, seed: int) -> None:
        self.data = data
        self.rng = random.Random(seed)
        self.users = Zipf(len(data.users))
        self.reads = list(accumulate(w for _, _, w in READS))
        self.writes = list(accumulate(w for _, w in WRITES))
        self.comment_owners = Zipf(max(1, len(data.owned_studies)))
        self.member_pairs = Zipf(max(1, len(data.member_toggles)))
        self.collaborator_pairs = Zipf(max(1, len(data.collaborator_toggles)))
        self.serial = 0

    def next(self) -> Call:
        if self.rng.random() < WRITE_SHARE:
            return self._write()
        user = self.data.users[self.users.draw(self.rng)]
        pick = self.rng.random() * self.reads[-1]
        endpoint, page, _ = READS[min(bisect(self.reads, pick), len(READS) - 1)]
        studies = self.data.studies_of.get(user)
        if page == "study" and not studies:
            endpoint, page = "GET /api/organizations/{id}/members", "dashboard"
        if page == "study":
            assert studies
            ident = self.rng.choice(studies)
        else:
            orgs = self.data.orgs_of.get(user)
            if not orgs:
                return Call("GET /api/organizations", "GET", "/api/organizations", user)
            ident = self.rng.choice(orgs)
        return Call(endpoint, "GET", endpoint[4:].replace("{id}", str(ident)), user)

    def _write(self) -> Call:
        kind, _ = WRITES[min(bisect(self.writes, self.rng.random()), len(WRITES) - 1)]
        if kind.startswith("PATCH /api/organizations") and self.data.member_toggles:
            t = self.data.member_toggles[self.member_pairs.draw(self.rng)]
            path = f"/api/organizations/{t.scope}/members/{t.member}"
            return Call(kind, "PATCH", path, t.owner, {"role": t.flip()})
        if kind.startswith("PATCH") and self.data.collaborator_toggles:
            t = self.data.collaborator_toggles[self.collaborator_pairs.draw(self.rng)]
            path = f"/api/collaboration/studies/{t.scope}/collaborators/{t.member}"
            return Call(kind, "PATCH", path, t.owner, {"role": t.flip()})
        study, owner = self.data.owned_studies[self.comment_owners.draw(self.rng)]
        self.serial += 1
        body = {"body": f"bench comment {self.serial}"}
        path = f"/api/collaboration/studies/{study}/comments"
        return Call(f"POST {STUDY}/comments", "POST", path, owner, body)
