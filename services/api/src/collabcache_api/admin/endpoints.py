"""/api/admin: platform-wide figures, for platform admins only."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from collabcache_shared.cache.keys import CacheKey, Family

from ..analytics import repository as analytics_repo
from ..analytics.schemas import SystemStats
from ..caching.responder import CachedReadsDep
from ..deps import PlatformAdmin, SessionDep
from ..errors import ERROR_RESPONSES, error_responses

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)


@router.get("/system-stats", response_model=SystemStats, responses=error_responses(403))
async def system_stats(_: PlatformAdmin, session: SessionDep, cache: CachedReadsDep) -> Response:
    async def load() -> SystemStats:
        figures = await analytics_repo.system_figures(session)
        return SystemStats(**figures, generated_at=datetime.now(UTC))

    return await cache.respond(CacheKey.of(Family.SYSTEM_STATS), load)
