"""Analytics of an organization and of a team."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from ..deps import CurrentUserId, SessionDep
from . import service
from .schemas import OrganizationAnalytics, TeamAnalytics

router = APIRouter(tags=["analytics"])


@router.get("/api/organizations/{org_id}/analytics")
async def organization_analytics(
    org_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> OrganizationAnalytics:
    return await service.organization_analytics(session, user_id, org_id)


@router.get("/api/teams/{team_id}/analytics")
async def team_analytics(
    team_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> TeamAnalytics:
    return await service.team_analytics(session, user_id, team_id)
