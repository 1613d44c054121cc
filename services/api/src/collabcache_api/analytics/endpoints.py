"""Analytics of an organization and of a team."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from collabcache_shared.cache.keys import Family

from ..caching.access_records import org_standing, team_standing
from ..caching.reads import CachedRead
from ..caching.responder import CachedReadsDep
from ..deps import ClaimedUserId, SessionDep
from ..errors import ERROR_RESPONSES, error_responses
from . import service
from .schemas import OrganizationAnalytics, TeamAnalytics

router = APIRouter(tags=["analytics"], responses=ERROR_RESPONSES)


ORGANIZATION_ANALYTICS = CachedRead(
    Family.ORGANIZATION_ANALYTICS, key_param="org_id", guard=org_standing, paginated=False
)


@router.get(
    "/api/organizations/{org_id}/analytics",
    response_model=OrganizationAnalytics,
    responses=error_responses(404),
)
@ORGANIZATION_ANALYTICS.serves
async def organization_analytics(
    org_id: uuid.UUID,
    user_id: ClaimedUserId,
    session: SessionDep,
    cache: CachedReadsDep,
) -> Response:
    return await cache.read(
        ORGANIZATION_ANALYTICS,
        {"org_id": org_id},
        cache.in_own_session(lambda own: service.organization_analytics(own, org_id)),
    )


TEAM_ANALYTICS = CachedRead(
    Family.TEAM_ANALYTICS, key_param="team_id", guard=team_standing, paginated=False
)


@router.get(
    "/api/teams/{team_id}/analytics",
    response_model=TeamAnalytics,
    responses=error_responses(404),
)
@TEAM_ANALYTICS.serves
async def team_analytics(
    team_id: uuid.UUID,
    user_id: ClaimedUserId,
    session: SessionDep,
    cache: CachedReadsDep,
) -> Response:
    return await cache.read(
        TEAM_ANALYTICS,
        {"team_id": team_id},
        cache.in_own_session(
            lambda own: service.team_analytics(own, user_id=user_id, team_id=team_id)
        ),
    )
