"""/api/collaboration/studies/{study_id}/comments."""

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
from .schemas import CommentCreate, CommentPublic, CommentUpdate

router = APIRouter(
    prefix="/api/collaboration/studies/{study_id}/comments",
    tags=["comments"],
    responses=ERROR_RESPONSES,
)


async def load_comments(
    session: AsyncSession,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None,
) -> Page[CommentPublic]:
    return await service.list_comments(session, ids["study_id"], paged(page))


STUDY_COMMENTS = CachedRead(
    Family.STUDY_COMMENTS, key_param="study_id", guard=study_standing, load=load_comments
)


@router.get("", response_model=Page[CommentPublic], responses=error_responses(400, 404))
@STUDY_COMMENTS.serves
async def list_comments(study_id: uuid.UUID, cache: CachedReadsDep, page: PageDep) -> Response:
    return await cache.read(STUDY_COMMENTS, {"study_id": study_id}, page)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(403, 404))
async def add_comment(
    study_id: uuid.UUID, data: CommentCreate, user_id: CurrentUserId, session: SessionDep
) -> CommentPublic:
    return await service.add_comment(session, user_id=user_id, study_id=study_id, data=data)


@router.patch("/{comment_id}", responses=error_responses(403, 404))
async def update_comment(
    study_id: uuid.UUID,
    comment_id: uuid.UUID,
    data: CommentUpdate,
    user_id: CurrentUserId,
    session: SessionDep,
) -> CommentPublic:
    return await service.update_comment(
        session, user_id=user_id, study_id=study_id, comment_id=comment_id, data=data
    )


@router.delete(
    "/{comment_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(403, 404)
)
async def delete_comment(
    study_id: uuid.UUID, comment_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Response:
    await service.delete_comment(session, user_id=user_id, study_id=study_id, comment_id=comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
