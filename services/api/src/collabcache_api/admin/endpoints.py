"""/api/admin: platform-wide figures, for platform admins only."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from collabcache_shared.cache.keys import CacheKey, Family

from ..analytics import service as analytics
from ..analytics.schemas import SystemStats
from ..caching.responder import CachedReadsDep
from ..deps import ContainerDep, PlatformAdmin, SessionDep
from ..errors import ERROR_RESPONSES, ErrorBody, error_responses
from .cache_metrics import read_cache_metrics
from .schemas import CacheMetricsResponse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)
METRICS_UNAVAILABLE = {
    "model": ErrorBody,
    "description": "The database, or Redis (where the cache metrics are), is unavailable; "
    "retry after `Retry-After` seconds",
}


@router.get("/system-stats", response_model=SystemStats, responses=error_responses(403))
async def system_stats(_: PlatformAdmin, session: SessionDep, cache: CachedReadsDep) -> Response:
    async def load() -> SystemStats:
        return await analytics.system_stats(session)

    return await cache.respond(CacheKey.of(Family.SYSTEM_STATS), load)


@router.get(
    "/cache-metrics",
    response_model=CacheMetricsResponse,
    responses={**error_responses(403), 503: METRICS_UNAVAILABLE},
)
async def cache_metrics(
    _: PlatformAdmin, container: ContainerDep, response: Response
) -> CacheMetricsResponse | JSONResponse:
    """The cache's performance over the last 5 minutes, the busiest endpoints, the latest
    lookups and Redis's own figures, from the metrics aggregates (never cached)."""
    try:
        metrics = await read_cache_metrics(container.redis_settings, container.keyspace)
    except (RedisError, OSError) as exc:  # TimeoutError is an OSError
        log.warning("cache metrics unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "The cache metrics are unavailable (Redis), try again shortly"},
            status_code=503,
            headers={"Retry-After": "1", "Cache-Control": "no-store"},
        )
    response.headers["Cache-Control"] = "no-store"
    return CacheMetricsResponse(data=metrics)
