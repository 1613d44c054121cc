"""Queries on comments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..models import Comment, User
from ..pagination import PageRequest, keyset


async def comments_of_study(
    session: AsyncSession, study_id: uuid.UUID, page: PageRequest
) -> Sequence[Row[Comment, str | None]]:
    stmt = (
        select(Comment, User.name)
        .outerjoin(User, col(User.id) == Comment.author_id)
        .where(Comment.study_id == study_id)
    )
    order = (col(Comment.created_at), col(Comment.id))
    return (await session.execute(keyset(stmt, order, page))).all()


async def get_comment(
    session: AsyncSession, *, study_id: uuid.UUID, comment_id: uuid.UUID
) -> Comment | None:
    comment = await session.get(Comment, comment_id, with_for_update=True)
    return comment if comment is not None and comment.study_id == study_id else None


async def author_name(session: AsyncSession, author_id: uuid.UUID | None) -> str | None:
    if author_id is None:
        return None
    return await session.scalar(select(User.name).where(User.id == author_id))
