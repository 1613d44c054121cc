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
from collabcache_shared.cache.manager import Outcome, Result
from collabcache_shared.cache.store import FillResult

from ..analytics.endpoints import ORGANIZATION_ANALYTICS, TEAM_ANALYTICS
from ..bootstrap import Container
from ..caching.reads import CachedRead
from ..caching.refill import AfterLoad, refill, refill_standings, refill_user
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


@dataclass(frozen=True, slots=True)
class Fill:
    label: str  # the family (the report's line)
    size: int  # entries it fills
    fill: Callable[[Container, AfterLoad | None], Awaitable[list[Ending]]]


def ending_of(result: Result | None) -> Ending:
    """How a single fill (`refill`) ended."""
    if result is None:
        return Ending.NOT_VISIBLE
    if result.outcome in (Outcome.HIT, Outcome.STALE):
        return Ending.FRESH
    if result.outcome is Outcome.BYPASS:
        return Ending.UNAVAILABLE
    if result.fill is FillResult.STORED:
        return Ending.FILLED
    return Ending.FULL if result.fill is FillResult.FULL else Ending.REFUSED


def read_fill(read: CachedRead, ids: dict[str, uuid.UUID], user_id: uuid.UUID) -> Fill:
    async def fill(container: Container, hook: AfterLoad | None) -> list[Ending]:
        return [ending_of(await refill(container, read, ids, user_id, hook))]

    return Fill(read.family.value, 1, fill)


def standings_fill(user_id: uuid.UUID, kind: str, ids: list[uuid.UUID]) -> Fill:
    async def fill(container: Container, hook: AfterLoad | None) -> list[Ending]:
        return await refill_standings(container, user_id, kind, ids, hook)

    return Fill(STANDINGS, len(ids), fill)


def user_fill(user_id: uuid.UUID) -> Fill:
    async def fill(container: Container, hook: AfterLoad | None) -> list[Ending]:
        return [ending_of(await refill_user(container, user_id))]

    return Fill(USER_FIELD, 1, fill)


ORG_MEMBER = (
    "SELECT DISTINCT ON (organization_id) organization_id, user_id FROM organization_members"
    " ORDER BY organization_id, created_at"
)
TEAM_MEMBER = (
    "SELECT DISTINCT ON (t.id) t.id, m.user_id FROM teams t"
    " JOIN organization_members m ON m.organization_id = t.organization_id"
    " ORDER BY t.id, m.created_at"
)
MOST_ACTIVE_USERS = (
    "SELECT actor_id FROM activity WHERE actor_id IS NOT NULL"
    " GROUP BY actor_id ORDER BY count(*) DESC, actor_id LIMIT :n"
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
    """Every fill of a warm, hottest first."""
    async with container.read_sessions() as session:
        orgs = await _rows(session, ORG_MEMBER)
        teams = await _rows(session, TEAM_MEMBER)
        top_users = [u for (u,) in await _rows(session, MOST_ACTIVE_USERS, n=users)]
        standings: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = {u: [] for u in top_users}
        for user_id, kind, resource_id in await _rows(session, USER_STANDINGS, users=top_users):
            standings[user_id].append((kind, resource_id))
        top_studies = await _rows(session, MOST_ACTIVE_STUDIES, n=studies)
    return [
        *(read_fill(r, {"org_id": o}, u) for o, u in orgs for r in ORGANIZATION_READS),
        *(read_fill(r, {"team_id": t}, u) for t, u in teams for r in TEAM_READS),
        *_user_fills(top_users, standings),
        *(read_fill(r, {"study_id": s}, u) for s, u in top_studies if u for r in STUDY_READS),
    ]


def _user_fills(
    top_users: list[uuid.UUID], standings: dict[uuid.UUID, list[tuple[str, uuid.UUID]]]
) -> Iterator[Fill]:
    for user_id in top_users:
        own = standings[user_id]
        yield user_fill(user_id)
        for kind in ("org", "study"):
            ids = [rid for k, rid in own if k == kind]
            for start in range(0, len(ids), STANDINGS_BATCH):
                yield standings_fill(user_id, kind, ids[start : start + STANDINGS_BATCH])
        yield from (read_fill(r, {}, user_id) for r in USER_READS)


def families() -> list[str]:
    """The report's lines, in the order a warm fills them."""
    reads = (*ORGANIZATION_READS, *TEAM_READS)
    return [
        *(r.family.value for r in reads),
        USER_FIELD,
        STANDINGS,
        *(r.family.value for r in (*USER_READS, *STUDY_READS)),
    ]
