"""Analytics of an organization and of a team."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.keys import Family

from ..caching.access_records import org_standing, team_standing
from ..caching.reads import CachedRead
from ..caching.responder import CachedReadsDep
from ..errors import ERROR_RESPONSES, error_responses
from ..pagination import PageRequest
from . import service
from .schemas import OrganizationAnalytics, TeamAnalytics

router = APIRouter(tags=["analytics"], responses=ERROR_RESPONSES)


async def load_organization_analytics(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> OrganizationAnalytics:
    return await service.organization_analytics(session, ids["org_id"])


ORGANIZATION_ANALYTICS = CachedRead(
    Family.ORGANIZATION_ANALYTICS,
    key_param="org_id",
    guard=org_standing,
    paginated=False,
    load=load_organization_analytics,
)


@router.get(
    "/api/organizations/{org_id}/analytics",
    response_model=OrganizationAnalytics,
    responses=error_responses(404),
)
@ORGANIZATION_ANALYTICS.serves
async def organization_analytics(org_id: uuid.UUID, cache: CachedReadsDep) -> Response:
    return await cache.read(ORGANIZATION_ANALYTICS, {"org_id": org_id})


async def load_team_analytics(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> TeamAnalytics:
    """404 unless `user_id` is in the team's organization (the analytics are everyone's)."""
    return await service.team_analytics(session, user_id=user_id, team_id=ids["team_id"])


TEAM_ANALYTICS = CachedRead(
    Family.TEAM_ANALYTICS,
    key_param="team_id",
    guard=team_standing,
    paginated=False,
    load=load_team_analytics,
)


@router.get(
    "/api/teams/{team_id}/analytics",
    response_model=TeamAnalytics,
    responses=error_responses(404),
)
@TEAM_ANALYTICS.serves
async def team_analytics(team_id: uuid.UUID, cache: CachedReadsDep) -> Response:
    return await cache.read(TEAM_ANALYTICS, {"team_id": team_id})
