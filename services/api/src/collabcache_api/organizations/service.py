"""Organization and membership rules. Services never commit: the request scope does."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..errors import Conflict, Forbidden, NotFound
from ..models import Organization, OrganizationMember, OrgRole, utcnow
from ..pagination import Page, PageRequest, page_of
from ..users.repository import require_user
from . import repository as repo
from .schemas import (
    MemberCreate,
    MemberPublic,
    MemberUpdate,
    MyOrganizationPublic,
    OrganizationCreate,
    OrganizationPublic,
    OrganizationUpdate,
)


def _member_public(row: tuple[OrganizationMember, str, str]) -> MemberPublic:
    member, email, name = row
    return MemberPublic(
        user_id=member.user_id,
        email=email,
        name=name,
        role=OrgRole(member.role),
        joined_at=member.created_at,
    )


async def list_my_organizations(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest
) -> Page[MyOrganizationPublic]:
    rows = await repo.organizations_of_user(session, user_id, page)
    items, cursor = page_of(rows, page, lambda r: (r[2], r[0].id))
    return Page(
        items=[
            MyOrganizationPublic(
                **OrganizationPublic.model_validate(org).model_dump(), role=role, joined_at=joined
            )
            for org, role, joined in items
        ],
        next_cursor=cursor,
    )


async def create_organization(
    session: AsyncSession, user_id: uuid.UUID, data: OrganizationCreate
) -> OrganizationPublic:
    org = Organization(name=data.name)
    session.add(org)
    await session.flush()
    session.add(OrganizationMember(organization_id=org.id, user_id=user_id, role=OrgRole.OWNER))
    await session.flush()
    return OrganizationPublic.model_validate(org)


async def rename_organization(
    session: AsyncSession, *, user_id: uuid.UUID, org_id: uuid.UUID, data: OrganizationUpdate
) -> OrganizationPublic:
    await access.require_org_manager(session, org_id=org_id, user_id=user_id)
    org = await repo.lock_organization(session, org_id)
    if org is None:
        raise NotFound("Organization not found")
    org.name = data.name
    org.updated_at = utcnow()
    await session.flush()
    return OrganizationPublic.model_validate(org)


async def list_members(
    session: AsyncSession, org_id: uuid.UUID, page: PageRequest
) -> Page[MemberPublic]:
    """The page itself: the caller's standing, checked before any load (README, "The hit
    path"), is the access check."""
    rows = await repo.members(session, org_id, page)
    items, cursor = page_of(rows, page, lambda r: (r[0].created_at, r[0].user_id))
    return Page(items=[_member_public(r) for r in items], next_cursor=cursor)


def _check_may_grant(actor_role: OrgRole, *roles: OrgRole) -> None:
    if OrgRole.OWNER in roles and actor_role is not OrgRole.OWNER:
        raise Forbidden("Only an owner may grant or change the owner role")


async def add_member(
    session: AsyncSession, *, user_id: uuid.UUID, org_id: uuid.UUID, data: MemberCreate
) -> MemberPublic:
    actor_role = await access.require_org_manager(session, org_id=org_id, user_id=user_id)
    _check_may_grant(actor_role, data.role)
    await require_user(session, data.user_id)
    await repo.lock_organization(session, org_id)
    if await repo.get_member(session, org_id=org_id, user_id=data.user_id) is not None:
        raise Conflict("User is already a member of this organization")
    session.add(OrganizationMember(organization_id=org_id, user_id=data.user_id, role=data.role))
    await session.flush()
    return await _member(session, org_id=org_id, member_id=data.user_id)


async def change_member_role(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    org_id: uuid.UUID,
    member_id: uuid.UUID,
    data: MemberUpdate,
) -> MemberPublic:
    actor_role = await access.require_org_manager(session, org_id=org_id, user_id=user_id)
    await repo.lock_organization(session, org_id)
    member = await repo.get_member(session, org_id=org_id, user_id=member_id)
    if member is None:
        raise NotFound("Member not found")
    current = OrgRole(member.role)
    _check_may_grant(actor_role, current, data.role)
    if current is OrgRole.OWNER and data.role is not OrgRole.OWNER:
        await _keep_an_owner(session, org_id)
    member.role = data.role
    member.updated_at = utcnow()
    await session.flush()
    return await _member(session, org_id=org_id, member_id=member_id)


async def remove_member(
    session: AsyncSession, *, user_id: uuid.UUID, org_id: uuid.UUID, member_id: uuid.UUID
) -> None:
    """Owners/admins remove members; any member may leave. The last owner cannot go."""
    actor_role = await access.require_org_member(session, org_id=org_id, user_id=user_id)
    if member_id != user_id and actor_role not in {OrgRole.OWNER, OrgRole.ADMIN}:
        raise Forbidden("Only an owner or admin of the organization may remove members")
    await repo.lock_organization(session, org_id)
    member = await repo.get_member(session, org_id=org_id, user_id=member_id)
    if member is None:
        raise NotFound("Member not found")
    if OrgRole(member.role) is OrgRole.OWNER:
        if member_id != user_id:
            _check_may_grant(actor_role, OrgRole.OWNER)
        await _keep_an_owner(session, org_id)
    await repo.remove_from_org_teams(session, org_id=org_id, user_id=member_id)
    await session.delete(member)
    await session.flush()


async def _keep_an_owner(session: AsyncSession, org_id: uuid.UUID) -> None:
    if await repo.owner_count(session, org_id) <= 1:
        raise Conflict("An organization must keep at least one owner")


async def _member(
    session: AsyncSession, *, org_id: uuid.UUID, member_id: uuid.UUID
) -> MemberPublic:
    row = await repo.member_with_user(session, org_id=org_id, user_id=member_id)
    assert row is not None
    return _member_public(row)
