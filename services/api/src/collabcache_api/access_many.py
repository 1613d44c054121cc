"""The access rules of `access`, for many resources of one user in one query each: what a warm
needs to fill a user's standings in batches (README, "Cache warming"). Each answers only the
resources the user may see, by the very conditions `access` applies to one."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .access import StudyAccess, studies_with_roles, study_access_of
from .models import OrganizationMember, OrgRole, Study, Team


async def org_roles(
    session: AsyncSession, *, user_id: uuid.UUID, org_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, OrgRole]:
    """`access.org_role_of` of each organization the user is a member of."""
    rows = await session.execute(
        select(OrganizationMember.organization_id, OrganizationMember.role).where(
            col(OrganizationMember.organization_id).in_(org_ids),
            OrganizationMember.user_id == user_id,
        )
    )
    return {org_id: OrgRole(role) for org_id, role in rows}


async def team_roles(
    session: AsyncSession, *, user_id: uuid.UUID, team_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[Team, OrgRole]]:
    """`access.require_team_member` of each team the user may see."""
    rows = await session.execute(
        select(Team, OrganizationMember.role)
        .join(OrganizationMember, col(OrganizationMember.organization_id) == Team.organization_id)
        .where(col(Team.id).in_(team_ids), OrganizationMember.user_id == user_id)
    )
    return {team.id: (team, OrgRole(role)) for team, role in rows}


async def study_accesses(
    session: AsyncSession, *, user_id: uuid.UUID, study_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, StudyAccess]:
    """`access.study_access` of each study the user may see."""
    query = studies_with_roles(user_id).where(col(Study.id).in_(study_ids))
    rows = await session.execute(query)
    accesses = (study_access_of(study, role, org_role) for study, role, org_role in rows)
    return {a.study.id: a for a in accesses if a.can_view}
