"""Analytics of an organization and of a team."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from collabcache_shared.cache.keys import CacheKey, Family

from ..caching.access_records import org_standing, team_standing
from ..caching.responder import CachedReadsDep
from ..deps import ClaimedUserId, SessionDep
from ..errors import ERROR_RESPONSES, error_responses
from . import service
from .schemas import OrganizationAnalytics, TeamAnalytics

router = APIRouter(tags=["analytics"], responses=ERROR_RESPONSES)


@router.get(
    "/api/organizations/{org_id}/analytics",
    response_model=OrganizationAnalytics,
    responses=error_responses(404),
)
async def organization_analytics(
    org_id: uuid.UUID,
    user_id: ClaimedUserId,
    session: SessionDep,
    cache: CachedReadsDep,
) -> Response:
    return await cache.respond(
        CacheKey.of(Family.ORGANIZATION_ANALYTICS, org_id),
        cache.in_own_session(lambda own: service.organization_analytics(own, user_id, org_id)),
        standing=org_standing(org_id),
    )


@router.get(
    "/api/teams/{team_id}/analytics",
    response_model=TeamAnalytics,
    responses=error_responses(404),
)
async def team_analytics(
    team_id: uuid.UUID,
    user_id: ClaimedUserId,
    session: SessionDep,
    cache: CachedReadsDep,
) -> Response:
    return await cache.respond(
        CacheKey.of(Family.TEAM_ANALYTICS, team_id),
        cache.in_own_session(lambda own: service.team_analytics(own, user_id, team_id)),
        standing=team_standing(team_id),
    )
