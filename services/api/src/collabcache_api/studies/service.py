"""Study and collaboration rules. Every change to a study records an activity entry."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..errors import Conflict, Forbidden, NotFound
from ..models import Study, StudyCollaborator, StudyRole, utcnow
from ..pagination import Page, PageRequest, page_of
from ..users.repository import require_user
from . import repository as repo
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


def _collaborator_public(row: Any) -> CollaboratorPublic:
    collab, email, name = row
    return CollaboratorPublic(
        user_id=collab.user_id,
        email=email,
        name=name,
        role=StudyRole(collab.role),
        added_at=collab.created_at,
    )


async def list_my_studies(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest
) -> Page[MyStudyPublic]:
    rows = await repo.studies_of_user(session, user_id, page)
    items, cursor = page_of(rows, page, lambda r: (r[2], r[0].id))
    return Page(
        items=[
            MyStudyPublic(**StudyPublic.model_validate(study).model_dump(), role=role)
            for study, role, _ in items
        ],
        next_cursor=cursor,
    )


async def create_study(
    session: AsyncSession, *, user_id: uuid.UUID, org_id: uuid.UUID, data: StudyCreate
) -> StudyPublic:
    """Any member of the organization may start a study; its creator becomes its owner."""
    await access.require_org_member(session, org_id=org_id, user_id=user_id)
    study = Study(organization_id=org_id, title=data.title, status=data.status, created_by=user_id)
    session.add(study)
    await session.flush()
    session.add(StudyCollaborator(study_id=study.id, user_id=user_id, role=StudyRole.OWNER))
    repo.record_activity(
        session, "created", "study", study_id=study.id, actor_id=user_id, object_id=study.id
    )
    await session.flush()
    return StudyPublic.model_validate(study)


async def update_study(
    session: AsyncSession, *, user_id: uuid.UUID, study_id: uuid.UUID, data: StudyUpdate
) -> StudyPublic:
    standing = await access.study_access(session, study_id=study_id, user_id=user_id)
    if not standing.can_edit:
        raise Forbidden("Only owners and editors of the study may change it")
    study = await repo.lock_study(session, study_id)
    assert study is not None
    if data.title is not None:
        study.title = data.title
    if data.status is not None:
        study.status = data.status
    study.updated_at = utcnow()
    repo.record_activity(
        session, "updated", "study", study_id=study_id, actor_id=user_id, object_id=study_id
    )
    await session.flush()
    return StudyPublic.model_validate(study)


async def list_collaborators(
    session: AsyncSession, study_id: uuid.UUID, page: PageRequest
) -> Page[CollaboratorPublic]:
    """The page itself: the caller's standing, checked before any load (README, "The hit
    path"), is the access check."""
    rows = await repo.collaborators(session, study_id, page)
    items, cursor = page_of(rows, page, lambda r: (r[0].created_at, r[0].user_id))
    return Page(items=[_collaborator_public(r) for r in items], next_cursor=cursor)


async def _managed(session: AsyncSession, *, user_id: uuid.UUID, study_id: uuid.UUID) -> None:
    standing = await access.study_access(session, study_id=study_id, user_id=user_id)
    if not standing.can_manage_collaborators:
        raise Forbidden("Only owners of the study or of its organization may manage collaborators")
    await repo.lock_study(session, study_id)


async def add_collaborator(
    session: AsyncSession, *, user_id: uuid.UUID, study_id: uuid.UUID, data: CollaboratorCreate
) -> CollaboratorPublic:
    await _managed(session, user_id=user_id, study_id=study_id)
    await require_user(session, data.user_id)
    if await repo.get_collaborator(session, study_id=study_id, user_id=data.user_id) is not None:
        raise Conflict("User is already a collaborator on this study")
    session.add(StudyCollaborator(study_id=study_id, user_id=data.user_id, role=data.role))
    repo.record_activity(
        session,
        "collaborator_added",
        "user",
        study_id=study_id,
        actor_id=user_id,
        object_id=data.user_id,
    )
    await session.flush()
    return await _collaborator(session, study_id=study_id, member_id=data.user_id)


async def change_collaborator_role(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    study_id: uuid.UUID,
    member_id: uuid.UUID,
    data: CollaboratorUpdate,
) -> CollaboratorPublic:
    await _managed(session, user_id=user_id, study_id=study_id)
    collab = await repo.get_collaborator(session, study_id=study_id, user_id=member_id)
    if collab is None:
        raise NotFound("Collaborator not found")
    if collab.role == data.role:
        # Nothing changes, so nothing is recorded: an activity entry for it would change the
        # study's activity feed without the role change event that invalidates the feed.
        return await _collaborator(session, study_id=study_id, member_id=member_id)
    if collab.role == StudyRole.OWNER and data.role is not StudyRole.OWNER:
        await _keep_an_owner(session, study_id)
    collab.role = data.role
    collab.updated_at = utcnow()
    repo.record_activity(
        session,
        "collaborator_role_changed",
        "user",
        study_id=study_id,
        actor_id=user_id,
        object_id=member_id,
    )
    await session.flush()
    return await _collaborator(session, study_id=study_id, member_id=member_id)


async def remove_collaborator(
    session: AsyncSession, *, user_id: uuid.UUID, study_id: uuid.UUID, member_id: uuid.UUID
) -> None:
    """Managers remove collaborators; a collaborator may leave. The last owner cannot go."""
    if member_id == user_id:
        await access.study_access(session, study_id=study_id, user_id=user_id)
        await repo.lock_study(session, study_id)
    else:
        await _managed(session, user_id=user_id, study_id=study_id)
    collab = await repo.get_collaborator(session, study_id=study_id, user_id=member_id)
    if collab is None:
        raise NotFound("Collaborator not found")
    if collab.role == StudyRole.OWNER:
        await _keep_an_owner(session, study_id)
    await session.delete(collab)
    repo.record_activity(
        session,
        "collaborator_removed",
        "user",
        study_id=study_id,
        actor_id=user_id,
        object_id=member_id,
    )
    await session.flush()


async def _keep_an_owner(session: AsyncSession, study_id: uuid.UUID) -> None:
    if await repo.owner_count(session, study_id) <= 1:
        raise Conflict("A study must keep at least one owner")


async def _collaborator(
    session: AsyncSession, *, study_id: uuid.UUID, member_id: uuid.UUID
) -> CollaboratorPublic:
    row = await repo.collaborator_with_user(session, study_id=study_id, user_id=member_id)
    if row is None:
        raise NotFound("Collaborator not found")
    return _collaborator_public(row)


async def list_activity(
    session: AsyncSession, study_id: uuid.UUID, page: PageRequest
) -> Page[ActivityPublic]:
    """The page itself: the caller's standing, checked before any load (README, "The hit
    path"), is the access check."""
    rows = await repo.activity(session, study_id, page)
    items, cursor = page_of(rows, page, lambda r: (r[0].at, r[0].id))
    return Page(
        items=[ActivityPublic(**a.model_dump(), actor_name=actor_name) for a, actor_name in items],
        next_cursor=cursor,
    )


async def my_permissions(
    session: AsyncSession, *, user_id: uuid.UUID, study_id: uuid.UUID
) -> PermissionsPublic:
    standing = await access.study_access(session, study_id=study_id, user_id=user_id)
    return permissions_of(standing, user_id)


def permissions_of(standing: access.StudyAccess, user_id: uuid.UUID) -> PermissionsPublic:
    """The caller's rights on the study `standing` is theirs on."""
    return PermissionsPublic(
        study_id=standing.study.id,
        user_id=user_id,
        study_role=standing.study_role,
        organization_role=standing.org_role,
        can_view=standing.can_view,
        can_comment=standing.can_comment,
        can_edit=standing.can_edit,
        can_manage_collaborators=standing.can_manage_collaborators,
        can_moderate_comments=standing.can_moderate_comments,
    )
