"""The access rules of `access`, for many (user, resource) pairs of one kind in one query each:
what a warm needs to fill standings in batches (README, "Cache warming"). Each answers only
the pairs whose user may see the resource, by the very conditions `access` applies to one."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import Uuid, column, tuple_, values
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .access import StudyRoles
from .models import OrganizationMember, OrgRole, Study, StudyCollaborator, StudyRole, Team

# (user, resource): a standing asked for
Pair = tuple[uuid.UUID, uuid.UUID]


async def org_roles(session: AsyncSession, pairs: Collection[Pair]) -> dict[Pair, OrgRole]:
    """`access.org_role_of` of each (user, organization) where the user is a member."""
    member = OrganizationMember
    rows = await session.execute(
        select(member.user_id, member.organization_id, member.role).where(
            tuple_(col(member.user_id), col(member.organization_id)).in_(list(pairs))
        )
    )
    return {(user_id, org_id): OrgRole(role) for user_id, org_id, role in rows}


async def team_roles(
    session: AsyncSession, pairs: Collection[Pair]
) -> dict[Pair, tuple[uuid.UUID, OrgRole]]:
    """`access.require_team_member` of each (user, team) the user may see: the team's
    organization and the user's role in it."""
    member = OrganizationMember
    rows = await session.execute(
        select(member.user_id, Team.id, Team.organization_id, member.role)
        .join(member, col(member.organization_id) == Team.organization_id)
        .where(tuple_(col(member.user_id), col(Team.id)).in_(list(pairs)))
    )
    return {(user_id, team_id): (org_id, OrgRole(role)) for user_id, team_id, org_id, role in rows}


async def study_roles(session: AsyncSession, pairs: Collection[Pair]) -> dict[Pair, StudyRoles]:
    """`access.study_access` of each (user, study) the user may see: their roles on the
    study and in its organization (`access.studies_with_roles`, for many users)."""
    asked = values(column("user_id", Uuid), column("study_id", Uuid), name="asked").data(
        list(pairs)
    )
    collaborator, member = StudyCollaborator, OrganizationMember
    rows = await session.execute(
        select(asked.c.user_id, Study.id, collaborator.role, member.role)
        .select_from(asked)
        .join(Study, col(Study.id) == asked.c.study_id)
        .outerjoin(
            collaborator,
            (col(collaborator.study_id) == Study.id)
            & (col(collaborator.user_id) == asked.c.user_id),
        )
        .outerjoin(
            member,
            (col(member.organization_id) == Study.organization_id)
            & (col(member.user_id) == asked.c.user_id),
        )
    )
    found = {
        (user_id, study_id): StudyRoles(
            StudyRole(role) if role else None, OrgRole(org_role) if org_role else None
        )
        for user_id, study_id, role, org_role in rows
    }
    return {pair: roles for pair, roles in found.items() if roles.can_view}
