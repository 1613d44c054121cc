"""Queries on studies, collaborators and the activity log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..models import Activity, Study, StudyCollaborator, StudyRole, User
from ..pagination import PageRequest, keyset


async def studies_of_user(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest
) -> Sequence[Row[Study, str, datetime]]:
    stmt = (
        select(Study, StudyCollaborator.role, StudyCollaborator.created_at)
        .join(StudyCollaborator, col(StudyCollaborator.study_id) == Study.id)
        .where(StudyCollaborator.user_id == user_id)
    )
    order = (col(StudyCollaborator.created_at), col(StudyCollaborator.study_id))
    return (await session.execute(keyset(stmt, order, page))).all()


async def collaborators(
    session: AsyncSession, study_id: uuid.UUID, page: PageRequest
) -> Sequence[Row[StudyCollaborator, str, str]]:
    stmt = (
        select(StudyCollaborator, User.email, User.name)
        .join(User, col(User.id) == StudyCollaborator.user_id)
        .where(StudyCollaborator.study_id == study_id)
    )
    order = (col(StudyCollaborator.created_at), col(StudyCollaborator.user_id))
    return (await session.execute(keyset(stmt, order, page))).all()


async def collaborator_with_user(
    session: AsyncSession, *, study_id: uuid.UUID, user_id: uuid.UUID
) -> Row[StudyCollaborator, str, str] | None:
    return (
        await session.execute(
            select(StudyCollaborator, User.email, User.name)
            .join(User, col(User.id) == StudyCollaborator.user_id)
            .where(StudyCollaborator.study_id == study_id, StudyCollaborator.user_id == user_id)
        )
    ).first()


async def get_collaborator(
    session: AsyncSession, *, study_id: uuid.UUID, user_id: uuid.UUID
) -> StudyCollaborator | None:
    return await session.get(StudyCollaborator, (study_id, user_id), with_for_update=True)


async def collaborator_ids(session: AsyncSession, study_id: uuid.UUID) -> list[uuid.UUID]:
    result = await session.scalars(
        select(StudyCollaborator.user_id).where(StudyCollaborator.study_id == study_id)
    )
    return list(result)


async def lock_study(session: AsyncSession, study_id: uuid.UUID) -> Study | None:
    return await session.get(Study, study_id, with_for_update=True)


async def owner_count(session: AsyncSession, study_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(
            StudyCollaborator.study_id == study_id,
            StudyCollaborator.role == StudyRole.OWNER.value,
        )
    )
    return int(count or 0)


async def activity(
    session: AsyncSession, study_id: uuid.UUID, page: PageRequest
) -> Sequence[Row[Activity, str | None]]:
    stmt = (
        select(Activity, User.name)
        .outerjoin(User, col(User.id) == Activity.actor_id)
        .where(Activity.study_id == study_id)
    )
    order = (col(Activity.at), col(Activity.id))
    return (await session.execute(keyset(stmt, order, page, newest_first=True))).all()


def record_activity(
    session: AsyncSession,
    verb: str,
    object_type: str,
    *,
    study_id: uuid.UUID,
    actor_id: uuid.UUID,
    object_id: uuid.UUID | None,
) -> None:
    """Add an activity entry to the current transaction (flushed with the change itself)."""
    session.add(
        Activity(
            study_id=study_id,
            actor_id=actor_id,
            verb=verb,
            object_type=object_type,
            object_id=object_id,
        )
    )
