"""/api/collaboration/studies/{study_id}/comments."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ..deps import CurrentUserId, PageDep, SessionDep
from ..pagination import Page
from . import service
from .schemas import CommentCreate, CommentPublic, CommentUpdate

router = APIRouter(prefix="/api/collaboration/studies/{study_id}/comments", tags=["comments"])


@router.get("")
async def list_comments(
    study_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep, page: PageDep
) -> Page[CommentPublic]:
    return await service.list_comments(session, user_id, study_id, page)


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_comment(
    study_id: uuid.UUID, data: CommentCreate, user_id: CurrentUserId, session: SessionDep
) -> CommentPublic:
    return await service.add_comment(session, user_id, study_id, data)


@router.patch("/{comment_id}")
async def update_comment(
    study_id: uuid.UUID,
    comment_id: uuid.UUID,
    data: CommentUpdate,
    user_id: CurrentUserId,
    session: SessionDep,
) -> CommentPublic:
    return await service.update_comment(session, user_id, study_id, comment_id, data)


@router.delete("/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_comment(
    study_id: uuid.UUID, comment_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Response:
    await service.delete_comment(session, user_id, study_id, comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
