"""/api/organizations: the caller's organizations and their members."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ..deps import CurrentUserId, PageDep, SessionDep
from ..pagination import Page
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

router = APIRouter(prefix="/api/organizations", tags=["organizations"])


@router.get("")
async def list_my_organizations(
    user_id: CurrentUserId, session: SessionDep, page: PageDep
) -> Page[MyOrganizationPublic]:
    return await service.list_my_organizations(session, user_id, page)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_organization(
    data: OrganizationCreate, user_id: CurrentUserId, session: SessionDep
) -> OrganizationPublic:
    return await service.create_organization(session, user_id, data)


@router.patch("/{org_id}")
async def rename_organization(
    org_id: uuid.UUID, data: OrganizationUpdate, user_id: CurrentUserId, session: SessionDep
) -> OrganizationPublic:
    return await service.rename_organization(session, user_id, org_id, data)


@router.get("/{org_id}/members")
async def list_members(
    org_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep, page: PageDep
) -> Page[MemberPublic]:
    return await service.list_members(session, user_id, org_id, page)


@router.post("/{org_id}/members", status_code=status.HTTP_201_CREATED)
async def add_member(
    org_id: uuid.UUID, data: MemberCreate, user_id: CurrentUserId, session: SessionDep
) -> MemberPublic:
    return await service.add_member(session, user_id, org_id, data)


@router.patch("/{org_id}/members/{member_id}")
async def change_member_role(
    org_id: uuid.UUID,
    member_id: uuid.UUID,
    data: MemberUpdate,
    user_id: CurrentUserId,
    session: SessionDep,
) -> MemberPublic:
    return await service.change_member_role(session, user_id, org_id, member_id, data)


@router.delete("/{org_id}/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    org_id: uuid.UUID, member_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Response:
    await service.remove_member(session, user_id, org_id, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
