"""Analytics for organizations and teams, for their members only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ..models import OrgRole, StudyStatus
from ..teams.service import visible_team
from . import repository as repo
from .schemas import OrganizationAnalytics, SystemStats, TeamAnalytics


async def organization_analytics(session: AsyncSession, org_id: uuid.UUID) -> OrganizationAnalytics:
    """The figures themselves: the caller's standing, checked before any load (README, "The hit
    path"), is the access check."""
    figures = await repo.organization_figures(session, org_id)
    figures["members_by_role"] = {
        r.value: figures["members_by_role"].get(r.value, 0) for r in OrgRole
    }
    figures["studies_by_status"] = {
        s.value: figures["studies_by_status"].get(s.value, 0) for s in StudyStatus
    }
    return OrganizationAnalytics(
        organization_id=org_id,
        window_days=repo.WINDOW_DAYS,
        generated_at=datetime.now(UTC),
        **figures,
    )


async def team_analytics(
    session: AsyncSession, *, user_id: uuid.UUID, team_id: uuid.UUID
) -> TeamAnalytics:
    team = await visible_team(session, user_id=user_id, team_id=team_id)
    figures = await repo.team_figures(session, team_id=team_id, org_id=team.organization_id)
    return TeamAnalytics(
        team_id=team_id,
        organization_id=team.organization_id,
        window_days=repo.WINDOW_DAYS,
        generated_at=datetime.now(UTC),
        **figures,
    )


async def system_stats(session: AsyncSession) -> SystemStats:
    """Platform-wide figures, for platform administrators (the endpoint checks the caller)."""
    figures = await repo.system_figures(session)
    return SystemStats(**figures, generated_at=datetime.now(UTC))
