"""/api/admin: platform-wide figures, for platform admins only."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from ..analytics import repository as analytics_repo
from ..analytics.schemas import SystemStats
from ..deps import PlatformAdmin, SessionDep

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/system-stats")
async def system_stats(_: PlatformAdmin, session: SessionDep) -> SystemStats:
    figures = await analytics_repo.system_figures(session)
    return SystemStats(**figures, generated_at=datetime.now(UTC))
