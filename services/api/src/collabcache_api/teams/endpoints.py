"""Teams: listed and created under an organization, managed under /api/teams."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ..deps import CurrentUserId, PageDep, SessionDep
from ..pagination import Page
from . import service
from .schemas import TeamCreate, TeamMemberCreate, TeamMemberPublic, TeamPublic, TeamUpdate

router = APIRouter(tags=["teams"])


@router.get("/api/organizations/{org_id}/teams")
async def list_teams(
    org_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep, page: PageDep
) -> Page[TeamPublic]:
    return await service.list_teams(session, user_id, org_id, page)


@router.post("/api/organizations/{org_id}/teams", status_code=status.HTTP_201_CREATED)
async def create_team(
    org_id: uuid.UUID, data: TeamCreate, user_id: CurrentUserId, session: SessionDep
) -> TeamPublic:
    return await service.create_team(session, user_id, org_id, data)


@router.patch("/api/teams/{team_id}")
async def rename_team(
    team_id: uuid.UUID, data: TeamUpdate, user_id: CurrentUserId, session: SessionDep
) -> TeamPublic:
    return await service.rename_team(session, user_id, team_id, data)


@router.delete("/api/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_team(team_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep) -> Response:
    await service.delete_team(session, user_id, team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/teams/{team_id}/members")
async def list_team_members(
    team_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep, page: PageDep
) -> Page[TeamMemberPublic]:
    return await service.list_team_members(session, user_id, team_id, page)


@router.post("/api/teams/{team_id}/members", status_code=status.HTTP_201_CREATED)
async def add_team_member(
    team_id: uuid.UUID, data: TeamMemberCreate, user_id: CurrentUserId, session: SessionDep
) -> TeamMemberPublic:
    return await service.add_team_member(session, user_id, team_id, data)


@router.delete("/api/teams/{team_id}/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_team_member(
    team_id: uuid.UUID, member_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Response:
    await service.remove_team_member(session, user_id, team_id, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
