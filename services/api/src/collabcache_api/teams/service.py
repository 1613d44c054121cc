"""Team rules: any organization member reads; owners/admins manage (members may leave)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..errors import Conflict, Forbidden, NotFound, Unprocessable
from ..models import MANAGER_ROLES, Team, TeamMember, utcnow
from ..pagination import Page, PageRequest, page_of
from ..users.repository import require_user
from . import repository as repo
from .schemas import TeamCreate, TeamMemberCreate, TeamMemberPublic, TeamPublic, TeamUpdate


def _team_public(team: Team, member_count: int) -> TeamPublic:
    return TeamPublic(
        id=team.id,
        organization_id=team.organization_id,
        name=team.name,
        member_count=member_count,
        created_at=team.created_at,
        updated_at=team.updated_at,
    )


def _member_public(row: Any) -> TeamMemberPublic:
    member, email, name = row
    return TeamMemberPublic(
        user_id=member.user_id, email=email, name=name, added_at=member.created_at
    )


async def visible_team(session: AsyncSession, *, user_id: uuid.UUID, team_id: uuid.UUID) -> Team:
    """The team, if the caller is a member of its organization; 404 otherwise."""
    team, _ = await access.require_team_member(session, team_id=team_id, user_id=user_id)
    return team


async def _managed_team(session: AsyncSession, *, user_id: uuid.UUID, team_id: uuid.UUID) -> Team:
    team = await visible_team(session, user_id=user_id, team_id=team_id)
    await access.require_org_manager(session, org_id=team.organization_id, user_id=user_id)
    return team


async def list_teams(
    session: AsyncSession, org_id: uuid.UUID, page: PageRequest
) -> Page[TeamPublic]:
    """The page itself: the caller's standing, checked before any load (README, "The hit
    path"), is the access check."""
    rows = await repo.teams_of_org(session, org_id, page)
    items, cursor = page_of(rows, page, lambda r: (r[0].created_at, r[0].id))
    return Page(items=[_team_public(t, n) for t, n in items], next_cursor=cursor)


async def create_team(
    session: AsyncSession, *, user_id: uuid.UUID, org_id: uuid.UUID, data: TeamCreate
) -> TeamPublic:
    await access.require_org_manager(session, org_id=org_id, user_id=user_id)
    if await repo.name_taken(session, org_id=org_id, name=data.name):
        raise Conflict("A team with this name already exists in the organization")
    team = Team(organization_id=org_id, name=data.name)
    session.add(team)
    await session.flush()
    return _team_public(team, 0)


async def rename_team(
    session: AsyncSession, *, user_id: uuid.UUID, team_id: uuid.UUID, data: TeamUpdate
) -> TeamPublic:
    team = await _managed_team(session, user_id=user_id, team_id=team_id)
    if await repo.name_taken(
        session, org_id=team.organization_id, name=data.name, except_id=team.id
    ):
        raise Conflict("A team with this name already exists in the organization")
    team.name = data.name
    team.updated_at = utcnow()
    await session.flush()
    row = await repo.team_with_count(session, team_id)
    assert row is not None
    return _team_public(*row)


async def delete_team(session: AsyncSession, *, user_id: uuid.UUID, team_id: uuid.UUID) -> None:
    team = await _managed_team(session, user_id=user_id, team_id=team_id)
    await session.delete(team)
    await session.flush()


async def list_team_members(
    session: AsyncSession, *, user_id: uuid.UUID, team_id: uuid.UUID, page: PageRequest
) -> Page[TeamMemberPublic]:
    await visible_team(session, user_id=user_id, team_id=team_id)
    rows = await repo.members(session, team_id, page)
    items, cursor = page_of(rows, page, lambda r: (r[0].created_at, r[0].user_id))
    return Page(items=[_member_public(r) for r in items], next_cursor=cursor)


async def add_team_member(
    session: AsyncSession, *, user_id: uuid.UUID, team_id: uuid.UUID, data: TeamMemberCreate
) -> TeamMemberPublic:
    team = await _managed_team(session, user_id=user_id, team_id=team_id)
    user = await require_user(session, data.user_id)
    if await access.org_role_of(session, org_id=team.organization_id, user_id=data.user_id) is None:
        raise Unprocessable("Only members of the team's organization can join the team")
    if await repo.get_member(session, team_id=team_id, user_id=data.user_id) is not None:
        raise Conflict("User is already a member of this team")
    member = TeamMember(team_id=team_id, user_id=data.user_id)
    session.add(member)
    await session.flush()
    return TeamMemberPublic(
        user_id=user.id, email=user.email, name=user.name, added_at=member.created_at
    )


async def remove_team_member(
    session: AsyncSession, *, user_id: uuid.UUID, team_id: uuid.UUID, member_id: uuid.UUID
) -> None:
    team = await visible_team(session, user_id=user_id, team_id=team_id)
    if member_id != user_id:
        role = await access.org_role_of(session, org_id=team.organization_id, user_id=user_id)
        if role not in MANAGER_ROLES:
            raise Forbidden("Only an owner or admin of the organization may remove team members")
    member = await repo.get_member(session, team_id=team_id, user_id=member_id)
    if member is None:
        raise NotFound("Team member not found")
    await session.delete(member)
    await session.flush()
