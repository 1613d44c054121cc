"""The analytics aggregates, in SQL. Deliberately the expensive reads the cache exists for."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

WINDOW_DAYS = 30
TOP_N = 10

_ORG_MEMBERS_BY_ROLE = text(
    "SELECT role, count(*) FROM organization_members WHERE organization_id = :org GROUP BY role"
)
_ORG_STUDIES_BY_STATUS = text(
    "SELECT status, count(*) FROM studies WHERE organization_id = :org GROUP BY status"
)
_DAYS = """
    SELECT d::date AS day, coalesce(c.n, 0) AS count
    FROM generate_series(current_date - (:days - 1), current_date, interval '1 day') AS d
    LEFT JOIN ({counts}) c ON c.day = d::date
    ORDER BY day
"""
_ORG_COMMENTS_PER_DAY = text(
    _DAYS.format(
        counts="""
    SELECT cm.created_at::date AS day, count(*) AS n
    FROM comments cm JOIN studies s ON s.id = cm.study_id
    WHERE s.organization_id = :org AND cm.created_at >= current_date - (:days - 1)
    GROUP BY 1"""
    )
)
_ORG_MOST_ACTIVE = text("""
    WITH c AS (
        SELECT cm.author_id AS user_id, count(*) AS n
        FROM comments cm JOIN studies s ON s.id = cm.study_id
        WHERE s.organization_id = :org AND cm.created_at >= current_date - (:days - 1)
          AND cm.author_id IS NOT NULL
        GROUP BY 1),
    a AS (
        SELECT ac.actor_id AS user_id, count(*) AS n
        FROM activity ac JOIN studies s ON s.id = ac.study_id
        WHERE s.organization_id = :org AND ac.at >= current_date - (:days - 1)
          AND ac.actor_id IS NOT NULL AND ac.verb NOT LIKE 'comment%'
        GROUP BY 1)
    SELECT u.id, u.name, coalesce(c.n, 0) AS comments, coalesce(a.n, 0) AS activities
    FROM c FULL JOIN a ON a.user_id = c.user_id
    JOIN users u ON u.id = coalesce(c.user_id, a.user_id)
    ORDER BY coalesce(c.n, 0) + coalesce(a.n, 0) DESC, u.id
    LIMIT :top
""")
_TEAM_MEMBER_COUNT = text("SELECT count(*) FROM team_members WHERE team_id = :team")
_TEAM_COMMENTS = """
    SELECT cm.* FROM comments cm
    JOIN team_members tm ON tm.user_id = cm.author_id AND tm.team_id = :team
    JOIN studies s ON s.id = cm.study_id AND s.organization_id = :org
    WHERE cm.created_at >= current_date - (:days - 1)
"""
_TEAM_COMMENTS_PER_DAY = text(
    _DAYS.format(
        counts=f"SELECT created_at::date AS day, count(*) AS n FROM ({_TEAM_COMMENTS}) t GROUP BY 1"
    )
)
_TEAM_STUDIES_TOUCHED = text(f"SELECT count(DISTINCT study_id) FROM ({_TEAM_COMMENTS}) t")
# Team figures count comments only: every change to them is a comment event, whose rule marks the
# author's team analytics stale. `activities` is therefore 0 for teams.
_TEAM_MOST_ACTIVE = text(f"""
    SELECT u.id, u.name, count(t.id) AS comments, 0 AS activities
    FROM team_members tm JOIN users u ON u.id = tm.user_id
    LEFT JOIN ({_TEAM_COMMENTS}) t ON t.author_id = tm.user_id
    WHERE tm.team_id = :team
    GROUP BY u.id, u.name
    ORDER BY count(t.id) DESC, u.id
    LIMIT :top
""")
_SYSTEM_COUNTS = text("""
    SELECT (SELECT count(*) FROM users) AS users,
           (SELECT count(*) FROM users WHERE is_platform_admin) AS platform_admins,
           (SELECT count(*) FROM organizations) AS organizations,
           (SELECT count(*) FROM teams) AS teams,
           (SELECT count(*) FROM studies) AS studies,
           (SELECT count(*) FROM comments) AS comments,
           (SELECT count(*) FROM comments WHERE created_at >= now() - interval '24 hours')
               AS comments_last_24h,
           (SELECT count(*) FROM activity) AS activity_entries
""")
_STUDIES_BY_STATUS = text("SELECT status, count(*) FROM studies GROUP BY status")


async def _pairs(session: AsyncSession, stmt: Any, **params: Any) -> dict[str, int]:
    return {k: int(v) for k, v in (await session.execute(stmt, params)).all()}


async def _rows(session: AsyncSession, stmt: Any, **params: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in (await session.execute(stmt, params)).all()]


def _active(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "user_id": r["id"],
            "name": r["name"],
            "comments": r["comments"],
            "activities": r["activities"],
        }
        for r in rows
    ]


async def organization_figures(session: AsyncSession, org_id: uuid.UUID) -> dict[str, Any]:
    p = {"org": org_id, "days": WINDOW_DAYS, "top": TOP_N}
    return {
        "members_by_role": await _pairs(session, _ORG_MEMBERS_BY_ROLE, org=org_id),
        "studies_by_status": await _pairs(session, _ORG_STUDIES_BY_STATUS, org=org_id),
        "comments_per_day": await _rows(
            session, _ORG_COMMENTS_PER_DAY, org=org_id, days=WINDOW_DAYS
        ),
        "most_active_collaborators": _active(await _rows(session, _ORG_MOST_ACTIVE, **p)),
    }


async def team_figures(
    session: AsyncSession, *, team_id: uuid.UUID, org_id: uuid.UUID
) -> dict[str, Any]:
    p = {"team": team_id, "org": org_id, "days": WINDOW_DAYS}
    return {
        "member_count": int(await session.scalar(_TEAM_MEMBER_COUNT, {"team": team_id}) or 0),
        "comments_per_day": await _rows(session, _TEAM_COMMENTS_PER_DAY, **p),
        "studies_touched": int(await session.scalar(_TEAM_STUDIES_TOUCHED, p) or 0),
        "most_active_members": _active(await _rows(session, _TEAM_MOST_ACTIVE, **p, top=TOP_N)),
    }


async def system_figures(session: AsyncSession) -> dict[str, Any]:
    counts = (await session.execute(_SYSTEM_COUNTS)).one()._mapping
    return {
        **{k: int(v) for k, v in counts.items()},
        "studies_by_status": await _pairs(session, _STUDIES_BY_STATUS),
    }
