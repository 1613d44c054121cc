"""Teams: listed and created under an organization, managed under /api/teams."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.keys import Family

from ..caching.access_records import org_standing, team_standing
from ..caching.reads import CachedRead, paged
from ..caching.responder import CachedReadsDep
from ..deps import CurrentUserId, PageDep, SessionDep
from ..errors import ERROR_RESPONSES, error_responses
from ..pagination import Page, PageRequest
from . import service
from .schemas import TeamCreate, TeamMemberCreate, TeamMemberPublic, TeamPublic, TeamUpdate

router = APIRouter(tags=["teams"], responses=ERROR_RESPONSES)


async def load_teams(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> Page[TeamPublic]:
    return await service.list_teams(session, ids["org_id"], paged(page))


ORGANIZATION_TEAMS = CachedRead(
    Family.ORGANIZATION_TEAMS, key_param="org_id", guard=org_standing, load=load_teams
)


@router.get(
    "/api/organizations/{org_id}/teams",
    response_model=Page[TeamPublic],
    responses=error_responses(400, 404),
)
@ORGANIZATION_TEAMS.serves
async def list_teams(org_id: uuid.UUID, cache: CachedReadsDep, page: PageDep) -> Response:
    return await cache.read(ORGANIZATION_TEAMS, {"org_id": org_id}, page)


@router.post(
    "/api/organizations/{org_id}/teams",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409),
)
async def create_team(
    org_id: uuid.UUID, data: TeamCreate, user_id: CurrentUserId, session: SessionDep
) -> TeamPublic:
    return await service.create_team(session, user_id=user_id, org_id=org_id, data=data)


@router.patch("/api/teams/{team_id}", responses=error_responses(403, 404, 409))
async def rename_team(
    team_id: uuid.UUID, data: TeamUpdate, user_id: CurrentUserId, session: SessionDep
) -> TeamPublic:
    return await service.rename_team(session, user_id=user_id, team_id=team_id, data=data)


@router.delete(
    "/api/teams/{team_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 404),
)
async def delete_team(team_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep) -> Response:
    await service.delete_team(session, user_id=user_id, team_id=team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def load_team_members(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> Page[TeamMemberPublic]:
    """404 unless `user_id` is in the team's organization (the page itself is everyone's)."""
    team_id = ids["team_id"]
    return await service.list_team_members(
        session, user_id=user_id, team_id=team_id, page=paged(page)
    )


TEAM_MEMBERS = CachedRead(
    Family.TEAM_MEMBERS, key_param="team_id", guard=team_standing, load=load_team_members
)


@router.get(
    "/api/teams/{team_id}/members",
    response_model=Page[TeamMemberPublic],
    responses=error_responses(400, 404),
)
@TEAM_MEMBERS.serves
async def list_team_members(team_id: uuid.UUID, cache: CachedReadsDep, page: PageDep) -> Response:
    return await cache.read(TEAM_MEMBERS, {"team_id": team_id}, page)


@router.post(
    "/api/teams/{team_id}/members",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409, 422),
)
async def add_team_member(
    team_id: uuid.UUID, data: TeamMemberCreate, user_id: CurrentUserId, session: SessionDep
) -> TeamMemberPublic:
    return await service.add_team_member(session, user_id=user_id, team_id=team_id, data=data)


@router.delete(
    "/api/teams/{team_id}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 404),
)
async def remove_team_member(
    team_id: uuid.UUID, member_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Response:
    await service.remove_team_member(session, user_id=user_id, team_id=team_id, member_id=member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
