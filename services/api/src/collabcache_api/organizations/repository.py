"""Queries on organizations and their members."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..models import Organization, OrganizationMember, OrgRole, Team, TeamMember, User
from ..pagination import PageRequest, keyset


async def organizations_of_user(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest
) -> Sequence[Row[Organization, str, datetime]]:
    stmt = (
        select(Organization, OrganizationMember.role, OrganizationMember.created_at)
        .join(OrganizationMember, col(OrganizationMember.organization_id) == Organization.id)
        .where(OrganizationMember.user_id == user_id)
    )
    order = (col(OrganizationMember.created_at), col(OrganizationMember.organization_id))
    return (await session.execute(keyset(stmt, order, page))).all()


async def members(
    session: AsyncSession, org_id: uuid.UUID, page: PageRequest
) -> Sequence[Row[OrganizationMember, str, str]]:
    stmt = (
        select(OrganizationMember, User.email, User.name)
        .join(User, col(User.id) == OrganizationMember.user_id)
        .where(OrganizationMember.organization_id == org_id)
    )
    order = (col(OrganizationMember.created_at), col(OrganizationMember.user_id))
    return (await session.execute(keyset(stmt, order, page))).all()


async def get_member(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID
) -> OrganizationMember | None:
    return await session.get(OrganizationMember, (org_id, user_id), with_for_update=True)


async def member_with_user(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID
) -> Row[OrganizationMember, str, str] | None:
    return (
        await session.execute(
            select(OrganizationMember, User.email, User.name)
            .join(User, col(User.id) == OrganizationMember.user_id)
            .where(
                OrganizationMember.organization_id == org_id,
                OrganizationMember.user_id == user_id,
            )
        )
    ).first()


async def owner_count(session: AsyncSession, org_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(
            OrganizationMember.organization_id == org_id,
            OrganizationMember.role == OrgRole.OWNER.value,
        )
    )
    return int(count or 0)


async def remove_from_org_teams(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    org_teams = select(Team.id).where(Team.organization_id == org_id)
    await session.execute(
        delete(TeamMember).where(
            col(TeamMember.user_id) == user_id, col(TeamMember.team_id).in_(org_teams)
        )
    )


async def lock_organization(session: AsyncSession, org_id: uuid.UUID) -> Organization | None:
    """Row-lock the organization: serializes membership changes (last-owner checks)."""
    return await session.get(Organization, org_id, with_for_update=True)
