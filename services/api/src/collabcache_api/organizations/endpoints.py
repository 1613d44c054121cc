"""/api/organizations: the caller's organizations and their members."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.keys import Family

from ..caching.access_records import org_standing
from ..caching.reads import CachedRead, paged
from ..caching.responder import CachedReadsDep
from ..deps import CurrentUser, CurrentUserId, PageDep, SessionDep
from ..errors import ERROR_RESPONSES, error_responses
from ..pagination import Page, PageRequest
from . import service
from .schemas import (
    MemberCreate,
    MemberPublic,
    MemberUpdate,
    MyOrganizationPublic,
    OrganizationCreate,
    OrganizationPublic,
    OrganizationUpdate,
)

router = APIRouter(prefix="/api/organizations", tags=["organizations"], responses=ERROR_RESPONSES)


async def load_my_organizations(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> Page[MyOrganizationPublic]:
    return await service.list_my_organizations(session, user_id, paged(page))


USER_ORGANIZATIONS = CachedRead(Family.USER_ORGANIZATIONS, load=load_my_organizations)


@router.get("", response_model=Page[MyOrganizationPublic], responses=error_responses(400))
@USER_ORGANIZATIONS.serves
async def list_my_organizations(cache: CachedReadsDep, page: PageDep) -> Response:
    return await cache.read(USER_ORGANIZATIONS, {}, page)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_organization(
    data: OrganizationCreate, user: CurrentUser, session: SessionDep
) -> OrganizationPublic:
    # The caller's row is looked up (a 401 for a token of a deleted user): the first write that
    # needs no membership, where a missing user would otherwise be a foreign-key 409.
    return await service.create_organization(session, user.id, data)


@router.patch("/{org_id}", responses=error_responses(403, 404))
async def rename_organization(
    org_id: uuid.UUID, data: OrganizationUpdate, user_id: CurrentUserId, session: SessionDep
) -> OrganizationPublic:
    return await service.rename_organization(session, user_id=user_id, org_id=org_id, data=data)


async def load_members(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> Page[MemberPublic]:
    return await service.list_members(session, ids["org_id"], paged(page))


ORGANIZATION_MEMBERS = CachedRead(
    Family.ORGANIZATION_MEMBERS, key_param="org_id", guard=org_standing, load=load_members
)


@router.get(
    "/{org_id}/members", response_model=Page[MemberPublic], responses=error_responses(400, 404)
)
@ORGANIZATION_MEMBERS.serves
async def list_members(org_id: uuid.UUID, cache: CachedReadsDep, page: PageDep) -> Response:
    return await cache.read(ORGANIZATION_MEMBERS, {"org_id": org_id}, page)


@router.post(
    "/{org_id}/members",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409),
)
async def add_member(
    org_id: uuid.UUID, data: MemberCreate, user_id: CurrentUserId, session: SessionDep
) -> MemberPublic:
    return await service.add_member(session, user_id=user_id, org_id=org_id, data=data)


@router.patch("/{org_id}/members/{member_id}", responses=error_responses(403, 404, 409))
async def change_member_role(
    org_id: uuid.UUID,
    member_id: uuid.UUID,
    data: MemberUpdate,
    user_id: CurrentUserId,
    session: SessionDep,
) -> MemberPublic:
    return await service.change_member_role(
        session, user_id=user_id, org_id=org_id, member_id=member_id, data=data
    )


@router.delete(
    "/{org_id}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 404, 409),
)
async def remove_member(
    org_id: uuid.UUID, member_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Response:
    await service.remove_member(session, user_id=user_id, org_id=org_id, member_id=member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
