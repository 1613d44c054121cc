"""Comment rules (README, "Who may do what"): owners and editors comment; an author edits,
resolves and deletes their own comments while they may still comment (an author demoted to
viewer reads them like any viewer); editors also resolve anybody's; moderators (the study's
owners, the organization's owners and admins) resolve and delete anybody's. Every change
records an activity entry on the study."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..errors import Forbidden, NotFound
from ..models import Comment, utcnow
from ..pagination import Page, PageRequest, page_of
from ..studies.repository import record_activity
from . import repository as repo
from .schemas import CommentCreate, CommentPublic, CommentUpdate


def _public(comment: Comment, author_name: str | None) -> CommentPublic:
    return CommentPublic(**comment.model_dump(), author_name=author_name)


def _acting_author(comment: Comment, user_id: uuid.UUID, standing: access.StudyAccess) -> bool:
    """The caller wrote the comment and may comment on the study now."""
    return comment.author_id == user_id and standing.can_comment


async def list_comments(
    session: AsyncSession, study_id: uuid.UUID, page: PageRequest
) -> Page[CommentPublic]:
    """The page itself: the caller's standing, checked before any load (README, "The hit
    path"), is the access check."""
    rows = await repo.comments_of_study(session, study_id, page)
    items, cursor = page_of(rows, page, lambda r: (r[0].created_at, r[0].id))
    return Page(items=[_public(c, name) for c, name in items], next_cursor=cursor)


async def add_comment(
    session: AsyncSession, *, user_id: uuid.UUID, study_id: uuid.UUID, data: CommentCreate
) -> CommentPublic:
    standing = await access.study_access(session, study_id=study_id, user_id=user_id)
    if not standing.can_comment:
        raise Forbidden("Viewers may read the study but not comment on it")
    comment = Comment(study_id=study_id, author_id=user_id, body=data.body)
    session.add(comment)
    await session.flush()
    record_activity(
        session,
        "comment_added",
        "comment",
        study_id=study_id,
        actor_id=user_id,
        object_id=comment.id,
    )
    await session.flush()
    return _public(comment, await repo.author_name(session, user_id))


async def update_comment(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    study_id: uuid.UUID,
    comment_id: uuid.UUID,
    data: CommentUpdate,
) -> CommentPublic:
    standing = await access.study_access(session, study_id=study_id, user_id=user_id)
    comment = await repo.get_comment(session, study_id=study_id, comment_id=comment_id)
    if comment is None:
        raise NotFound("Comment not found")
    author = _acting_author(comment, user_id, standing)
    if data.body is not None and not author:
        raise Forbidden("Only the author may edit a comment, while they may comment on the study")
    if data.resolved is not None and not (author or standing.can_edit):
        raise Forbidden("Only the author, the study's owners or editors may resolve a comment")
    if data.body is not None and data.body != comment.body:
        comment.body = data.body
        record_activity(
            session,
            "comment_edited",
            "comment",
            study_id=study_id,
            actor_id=user_id,
            object_id=comment_id,
        )
    if data.resolved is not None and data.resolved != comment.resolved:
        comment.resolved = data.resolved
        verb = "comment_resolved" if data.resolved else "comment_reopened"
        record_activity(
            session, verb, "comment", study_id=study_id, actor_id=user_id, object_id=comment_id
        )
    comment.updated_at = utcnow()
    await session.flush()
    return _public(comment, await repo.author_name(session, comment.author_id))


async def delete_comment(
    session: AsyncSession, *, user_id: uuid.UUID, study_id: uuid.UUID, comment_id: uuid.UUID
) -> None:
    standing = await access.study_access(session, study_id=study_id, user_id=user_id)
    comment = await repo.get_comment(session, study_id=study_id, comment_id=comment_id)
    if comment is None:
        raise NotFound("Comment not found")
    if not (_acting_author(comment, user_id, standing) or standing.can_moderate_comments):
        raise Forbidden(
            "Only the author (while they may comment on the study) or a study owner may "
            "delete a comment"
        )
    await session.delete(comment)
    record_activity(
        session,
        "comment_deleted",
        "comment",
        study_id=study_id,
        actor_id=user_id,
        object_id=comment_id,
    )
    await session.flush()
