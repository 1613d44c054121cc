"""A snapshot of the database state a test cares about, to prove that a refused write changed
nothing (and that an accepted one changed something).

The rows of one organization (its members, teams, studies, collaborators, comments, activity)
are captured in full, and every table is also counted, so a write that lands somewhere else
(another organization, a new organization) is seen as well.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

_ORG_ROWS = {
    "organization": "SELECT id, name, updated_at FROM organizations WHERE id = $1",
    "members": """
        SELECT user_id, role, created_at, updated_at FROM organization_members
        WHERE organization_id = $1 ORDER BY user_id""",
    "teams": "SELECT id, name, updated_at FROM teams WHERE organization_id = $1 ORDER BY id",
    "team_members": """
        SELECT tm.team_id, tm.user_id FROM team_members tm JOIN teams t ON t.id = tm.team_id
        WHERE t.organization_id = $1 ORDER BY 1, 2""",
    "studies": """
        SELECT id, title, status, updated_at FROM studies WHERE organization_id = $1
        ORDER BY id""",
    "collaborators": """
        SELECT sc.study_id, sc.user_id, sc.role, sc.updated_at FROM study_collaborators sc
        JOIN studies s ON s.id = sc.study_id WHERE s.organization_id = $1 ORDER BY 1, 2""",
    "comments": """
        SELECT c.id, c.author_id, c.body, c.resolved, c.updated_at FROM comments c
        JOIN studies s ON s.id = c.study_id WHERE s.organization_id = $1 ORDER BY c.id""",
    "activity": """
        SELECT a.id, a.verb, a.object_id FROM activity a
        JOIN studies s ON s.id = a.study_id WHERE s.organization_id = $1 ORDER BY a.id""",
}
_TABLES = (
    "users",
    "organizations",
    "organization_members",
    "teams",
    "team_members",
    "studies",
    "study_collaborators",
    "comments",
    "activity",
)
_COUNTS = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in _TABLES)


async def snapshot(db: asyncpg.Pool, org_id: uuid.UUID) -> dict[str, Any]:
    async with db.acquire() as conn:
        state: dict[str, Any] = {
            name: [tuple(r) for r in await conn.fetch(sql, org_id)]
            for name, sql in _ORG_ROWS.items()
        }
        state["counts"] = dict(await conn.fetchrow(_COUNTS))
    return state


def changed_parts(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The names of the parts of a snapshot that differ: empty when nothing changed."""
    return [name for name in before if before[name] != after[name]]
