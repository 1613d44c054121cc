"""Queries on teams and team membership."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Label, Row, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..models import Team, TeamMember, User
from ..pagination import PageRequest, keyset


def _member_count() -> Label[int]:
    return (
        select(func.count())
        .where(TeamMember.team_id == Team.id)
        .correlate(Team)
        .scalar_subquery()
        .label("member_count")
    )


async def teams_of_org(
    session: AsyncSession, org_id: uuid.UUID, page: PageRequest
) -> Sequence[Row[Team, int]]:
    stmt = select(Team, _member_count()).where(Team.organization_id == org_id)
    return (await session.execute(keyset(stmt, (col(Team.created_at), col(Team.id)), page))).all()


async def team_with_count(session: AsyncSession, team_id: uuid.UUID) -> Row[Team, int] | None:
    return (await session.execute(select(Team, _member_count()).where(Team.id == team_id))).first()


async def name_taken(
    session: AsyncSession, *, org_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None
) -> bool:
    stmt = select(Team.id).where(Team.organization_id == org_id, Team.name == name)
    if except_id is not None:
        stmt = stmt.where(Team.id != except_id)
    return (await session.scalar(stmt)) is not None


async def members(
    session: AsyncSession, team_id: uuid.UUID, page: PageRequest
) -> Sequence[Row[TeamMember, str, str]]:
    stmt = (
        select(TeamMember, User.email, User.name)
        .join(User, col(User.id) == TeamMember.user_id)
        .where(TeamMember.team_id == team_id)
    )
    order = (col(TeamMember.created_at), col(TeamMember.user_id))
    return (await session.execute(keyset(stmt, order, page))).all()


async def team_ids_of_member(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID
) -> list[uuid.UUID]:
    """The teams of an organization that a user belongs to."""
    result = await session.scalars(
        select(TeamMember.team_id)
        .join(Team, col(Team.id) == TeamMember.team_id)
        .where(Team.organization_id == org_id, TeamMember.user_id == user_id)
    )
    return list(result)


async def get_member(
    session: AsyncSession, *, team_id: uuid.UUID, user_id: uuid.UUID
) -> TeamMember | None:
    return await session.get(TeamMember, (team_id, user_id))
