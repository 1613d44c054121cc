"""/api/collaboration/studies: studies, their collaborators, activity and the caller's rights."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ..deps import CurrentUserId, PageDep, SessionDep
from ..pagination import Page
from . import service
from .schemas import (
    ActivityPublic,
    CollaboratorCreate,
    CollaboratorPublic,
    CollaboratorUpdate,
    MyStudyPublic,
    PermissionsPublic,
    StudyCreate,
    StudyPublic,
    StudyUpdate,
)

router = APIRouter(tags=["studies"])
STUDY = "/api/collaboration/studies/{study_id}"


@router.get("/api/collaboration/studies")
async def list_my_studies(
    user_id: CurrentUserId, session: SessionDep, page: PageDep
) -> Page[MyStudyPublic]:
    return await service.list_my_studies(session, user_id, page)


@router.post("/api/organizations/{org_id}/studies", status_code=status.HTTP_201_CREATED)
async def create_study(
    org_id: uuid.UUID, data: StudyCreate, user_id: CurrentUserId, session: SessionDep
) -> StudyPublic:
    return await service.create_study(session, user_id, org_id, data)


@router.patch(STUDY)
async def update_study(
    study_id: uuid.UUID, data: StudyUpdate, user_id: CurrentUserId, session: SessionDep
) -> StudyPublic:
    return await service.update_study(session, user_id, study_id, data)


@router.get(STUDY + "/collaborators")
async def list_collaborators(
    study_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep, page: PageDep
) -> Page[CollaboratorPublic]:
    return await service.list_collaborators(session, user_id, study_id, page)


@router.post(STUDY + "/collaborators", status_code=status.HTTP_201_CREATED)
async def add_collaborator(
    study_id: uuid.UUID, data: CollaboratorCreate, user_id: CurrentUserId, session: SessionDep
) -> CollaboratorPublic:
    return await service.add_collaborator(session, user_id, study_id, data)


@router.patch(STUDY + "/collaborators/{member_id}")
async def change_collaborator_role(
    study_id: uuid.UUID,
    member_id: uuid.UUID,
    data: CollaboratorUpdate,
    user_id: CurrentUserId,
    session: SessionDep,
) -> CollaboratorPublic:
    return await service.change_collaborator_role(session, user_id, study_id, member_id, data)


@router.delete(STUDY + "/collaborators/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_collaborator(
    study_id: uuid.UUID, member_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Response:
    await service.remove_collaborator(session, user_id, study_id, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(STUDY + "/activity")
async def list_activity(
    study_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep, page: PageDep
) -> Page[ActivityPublic]:
    return await service.list_activity(session, user_id, study_id, page)


@router.get(STUDY + "/permissions")
async def my_permissions(
    study_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> PermissionsPublic:
    return await service.my_permissions(session, user_id, study_id)
