"""/api/collaboration/studies: studies, their collaborators, activity and the caller's rights."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.keys import Family

from ..caching.access_records import study_standing
from ..caching.reads import CachedRead, paged
from ..caching.responder import CachedReadsDep
from ..deps import CurrentUserId, PageDep, SessionDep
from ..errors import ERROR_RESPONSES, error_responses
from ..pagination import Page, PageRequest
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

router = APIRouter(tags=["studies"], responses=ERROR_RESPONSES)
STUDY = "/api/collaboration/studies/{study_id}"


async def load_my_studies(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> Page[MyStudyPublic]:
    return await service.list_my_studies(session, user_id, paged(page))


USER_COLLABORATIVE_STUDIES = CachedRead(Family.USER_COLLABORATIVE_STUDIES, load=load_my_studies)


@router.get(
    "/api/collaboration/studies",
    response_model=Page[MyStudyPublic],
    responses=error_responses(400),
)
@USER_COLLABORATIVE_STUDIES.serves
async def list_my_studies(cache: CachedReadsDep, page: PageDep) -> Response:
    return await cache.read(USER_COLLABORATIVE_STUDIES, {}, page)


@router.post(
    "/api/organizations/{org_id}/studies",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404),
)
async def create_study(
    org_id: uuid.UUID, data: StudyCreate, user_id: CurrentUserId, session: SessionDep
) -> StudyPublic:
    return await service.create_study(session, user_id=user_id, org_id=org_id, data=data)


@router.patch(STUDY, responses=error_responses(403, 404))
async def update_study(
    study_id: uuid.UUID, data: StudyUpdate, user_id: CurrentUserId, session: SessionDep
) -> StudyPublic:
    return await service.update_study(session, user_id=user_id, study_id=study_id, data=data)


async def load_collaborators(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> Page[CollaboratorPublic]:
    return await service.list_collaborators(session, ids["study_id"], paged(page))


STUDY_COLLABORATORS = CachedRead(
    Family.STUDY_COLLABORATORS, key_param="study_id", guard=study_standing, load=load_collaborators
)


@router.get(
    STUDY + "/collaborators",
    response_model=Page[CollaboratorPublic],
    responses=error_responses(400, 404),
)
@STUDY_COLLABORATORS.serves
async def list_collaborators(study_id: uuid.UUID, cache: CachedReadsDep, page: PageDep) -> Response:
    return await cache.read(STUDY_COLLABORATORS, {"study_id": study_id}, page)


@router.post(
    STUDY + "/collaborators",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409),
)
async def add_collaborator(
    study_id: uuid.UUID, data: CollaboratorCreate, user_id: CurrentUserId, session: SessionDep
) -> CollaboratorPublic:
    return await service.add_collaborator(session, user_id=user_id, study_id=study_id, data=data)


@router.patch(STUDY + "/collaborators/{member_id}", responses=error_responses(403, 404, 409))
async def change_collaborator_role(
    study_id: uuid.UUID,
    member_id: uuid.UUID,
    data: CollaboratorUpdate,
    user_id: CurrentUserId,
    session: SessionDep,
) -> CollaboratorPublic:
    return await service.change_collaborator_role(
        session, user_id=user_id, study_id=study_id, member_id=member_id, data=data
    )


@router.delete(
    STUDY + "/collaborators/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 404, 409),
)
async def remove_collaborator(
    study_id: uuid.UUID, member_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Response:
    await service.remove_collaborator(
        session, user_id=user_id, study_id=study_id, member_id=member_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def load_activity(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> Page[ActivityPublic]:
    return await service.list_activity(session, ids["study_id"], paged(page))


STUDY_ACTIVITY = CachedRead(
    Family.STUDY_ACTIVITY, key_param="study_id", guard=study_standing, load=load_activity
)


@router.get(
    STUDY + "/activity",
    response_model=Page[ActivityPublic],
    responses=error_responses(400, 404),
)
@STUDY_ACTIVITY.serves
async def list_activity(study_id: uuid.UUID, cache: CachedReadsDep, page: PageDep) -> Response:
    return await cache.read(STUDY_ACTIVITY, {"study_id": study_id}, page)


PERMISSIONS = CachedRead(
    Family.USER_PERMISSIONS,
    guard=study_standing,
    guard_param="study_id",
    paginated=False,
    is_standing=True,
)


@router.get(
    STUDY + "/permissions", response_model=PermissionsPublic, responses=error_responses(404)
)
@PERMISSIONS.serves
async def my_permissions(study_id: uuid.UUID, cache: CachedReadsDep) -> Response:
    """The caller's standing on the study: the very record every study read checks."""
    return await cache.read(PERMISSIONS, {"study_id": study_id})
