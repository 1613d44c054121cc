"""What a warm fills, in order (README, "Cache warming"): the organization- and team-level
entries of every organization and team, then the entries of the most active users (their
standings, organizations and studies) and of the most active studies (by the activity table).

Each entry is a `Fill`: one declared read (or standing) to fill for given ids and a user who
may see it (the organization- and team-level pages are the same for every member: any member
will do, and a team's loader checks that the user is in its organization).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.batch import Ending

from ..analytics.endpoints import ORGANIZATION_ANALYTICS, TEAM_ANALYTICS
from ..bootstrap import Container
from ..caching.reads import CachedRead
from ..caching.refill import (
    AfterLoad,
    refill_reads,
    refill_standings,
    refill_users,
)
from ..comments.endpoints import STUDY_COMMENTS
from ..organizations.endpoints import ORGANIZATION_MEMBERS, USER_ORGANIZATIONS
from ..studies.endpoints import STUDY_ACTIVITY, STUDY_COLLABORATORS, USER_COLLABORATIVE_STUDIES
from ..teams.endpoints import ORGANIZATION_TEAMS, TEAM_MEMBERS

ORGANIZATION_READS = (ORGANIZATION_MEMBERS, ORGANIZATION_TEAMS, ORGANIZATION_ANALYTICS)
TEAM_READS = (TEAM_MEMBERS, TEAM_ANALYTICS)
USER_READS = (USER_ORGANIZATIONS, USER_COLLABORATIVE_STUDIES)
STUDY_READS = (STUDY_COLLABORATORS, STUDY_COMMENTS, STUDY_ACTIVITY)
# The report's label of a standing and of the `user` field (both fields of USER_PERMISSIONS).
STANDINGS = "USER_PERMISSIONS (standings)"
USER_FIELD = "USER_PERMISSIONS (user)"


# Standings filled in one batch (one lookup, one round trip of leases, one query, one of fills).
STANDINGS_BATCH = 200
# Pages of one read filled in one batch (one lookup, one round trip of leases, the loads in one
# session, one round trip of fills): small, as a reader of a leased entry waits for the batch.
READS_BATCH = 16
# Users whose standings (of each kind) are filled together: as few batches as STANDINGS_BATCH
# allows.
USERS_BATCH = 64


@dataclass(frozen=True, slots=True)
class Fill:
    label: str  # the family (the report's line)
    size: int  # entries it fills
    fill: Callable[[Container, AfterLoad | None], Awaitable[list[Ending]]]


Target = tuple[dict[str, uuid.UUID], uuid.UUID]  # a read's path ids, and a user who may see it


def reads_fills(read: CachedRead, targets: Sequence[Target]) -> Iterator[Fill]:
    """`read`'s entries for `targets`, READS_BATCH to a fill."""
    for start in range(0, len(targets), READS_BATCH):
        batch = targets[start : start + READS_BATCH]

        async def fill(
            container: Container, hook: AfterLoad | None, batch: Sequence[Target] = batch
        ) -> list[Ending]:
            return await refill_reads(container, read, batch, hook)

        yield Fill(read.family.value, len(batch), fill)


def standings_fills(kind: str, standings: list[tuple[uuid.UUID, uuid.UUID]]) -> Iterator[Fill]:
    """The (user, resource) standings of one kind, STANDINGS_BATCH to a fill."""
    for start in range(0, len(standings), STANDINGS_BATCH):
        batch = standings[start : start + STANDINGS_BATCH]

        async def fill(
            container: Container,
            hook: AfterLoad | None,
            batch: list[tuple[uuid.UUID, uuid.UUID]] = batch,
        ) -> list[Ending]:
            return await refill_standings(container, kind, batch, hook)

        yield Fill(STANDINGS, len(batch), fill)


def users_fill(user_ids: list[uuid.UUID]) -> Fill:
    async def fill(container: Container, hook: AfterLoad | None) -> list[Ending]:
        return await refill_users(container, user_ids, hook)

    return Fill(USER_FIELD, len(user_ids), fill)


ORG_MEMBER = (
    "SELECT DISTINCT ON (organization_id) organization_id, user_id FROM organization_members"
    " ORDER BY organization_id, created_at"
)
# A team's pages are read by any member of its organization: the one ORG_MEMBER chose (a join
# of every team with every member of its organization took 0.9 s of PostgreSQL here, at full
# priority, while the API served its first misses).
TEAMS = "SELECT id, organization_id FROM teams ORDER BY id"
# Every user ranks, those with no activity last: a warm of as many users as there are fills
# every user's own entries.
MOST_ACTIVE_USERS = (
    "SELECT u.id FROM users u LEFT JOIN (SELECT actor_id, count(*) AS n FROM activity"
    " WHERE actor_id IS NOT NULL GROUP BY actor_id) a ON a.actor_id = u.id"
    " ORDER BY coalesce(a.n, 0) DESC, u.id LIMIT :n"
)
MOST_ACTIVE_STUDIES = (
    "SELECT a.study_id, (SELECT c.user_id FROM study_collaborators c"
    "  WHERE c.study_id = a.study_id ORDER BY c.user_id LIMIT 1)"
    " FROM activity a GROUP BY a.study_id ORDER BY count(*) DESC, a.study_id LIMIT :n"
)
# The standings a user's own pages need first, for many users at once: their organizations
# and the studies they collaborate on. Their standings on teams and on the other studies of
# organizations they manage are filled by their first read.
USER_STANDINGS = (
    "SELECT user_id, 'org', organization_id FROM organization_members"
    " WHERE user_id = ANY(:users)"
    " UNION ALL SELECT user_id, 'study', study_id FROM study_collaborators"
    " WHERE user_id = ANY(:users)"
)


async def _rows(session: AsyncSession, sql: str, **params: object) -> Sequence[Any]:
    return (await session.execute(text(sql), params)).all()


async def plan(container: Container, *, users: int, studies: int) -> list[Fill]:
    """Every fill of a warm, hottest first: the organizations' and teams' entries, then the
    users' and the studies' side by side (`_hottest_first`)."""
    async with container.read_sessions() as session:
        orgs = await _rows(session, ORG_MEMBER)
        teams = await _rows(session, TEAMS)
        top_users = [u for (u,) in await _rows(session, MOST_ACTIVE_USERS, n=users)]
        standings: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = {u: [] for u in top_users}
        for user_id, kind, resource_id in await _rows(session, USER_STANDINGS, users=top_users):
            standings[user_id].append((kind, resource_id))
        top_studies = await _rows(session, MOST_ACTIVE_STUDIES, n=studies)
    org_targets: list[Target] = [({"org_id": o}, u) for o, u in orgs]
    member_of = dict(orgs)
    team_targets: list[Target] = [
        ({"team_id": t}, member_of[o]) for t, o in teams if o in member_of
    ]
    study_targets: list[Target] = [({"study_id": s}, u) for s, u in top_studies if u]
    return [
        *(f for r in ORGANIZATION_READS for f in reads_fills(r, org_targets)),
        *(f for r in TEAM_READS for f in reads_fills(r, team_targets)),
        *_hottest_first(_user_fills(top_users, standings), _study_fills(study_targets)),
    ]


# A share of the way down a ranking (0: its first), and the fills of the ranks from there.
Ranked = Iterator[tuple[float, list[Fill]]]


def _hottest_first(users: Ranked, studies: Ranked) -> list[Fill]:
    """The users' and the studies' fills interleaved by how far down its ranking each is:
    the studies of the first rank are as hot as its users, and come as early."""
    ranked = sorted([*users, *studies], key=lambda group: group[0])  # stable: users first
    return [fill for _, fills in ranked for fill in fills]


def _user_fills(
    top_users: list[uuid.UUID], standings: dict[uuid.UUID, list[tuple[str, uuid.UUID]]]
) -> Ranked:
    for start in range(0, len(top_users), USERS_BATCH):
        users = top_users[start : start + USERS_BATCH]
        fills = [users_fill(users)]
        for kind in ("org", "study"):
            own = [(u, rid) for u in users for k, rid in standings[u] if k == kind]
            fills += standings_fills(kind, own)
        for read in USER_READS:
            fills += reads_fills(read, [({}, user_id) for user_id in users])
        yield start / len(top_users), fills


def _study_fills(study_targets: list[Target]) -> Ranked:
    for start in range(0, len(study_targets), READS_BATCH):
        batch = study_targets[start : start + READS_BATCH]
        fills = [fill for read in STUDY_READS for fill in reads_fills(read, batch)]
        yield start / len(study_targets), fills


def families() -> list[str]:
    """The report's lines: the families in the order their hottest entries are filled."""
    reads = (*ORGANIZATION_READS, *TEAM_READS)
    return [
        *(r.family.value for r in reads),
        USER_FIELD,
        STANDINGS,
        *(r.family.value for r in (*USER_READS, *STUDY_READS)),
    ]
