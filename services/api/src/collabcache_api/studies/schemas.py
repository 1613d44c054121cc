from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, model_validator

from ..models import OrgRole, StudyRole, StudyStatus
from ..schemas import Body, PatchBody, Public, Title


class StudyCreate(Body):
    title: Title
    status: StudyStatus = StudyStatus.DRAFT


class StudyUpdate(PatchBody):
    title: Title | None = None
    status: StudyStatus | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> StudyUpdate:
        if self.title is None and self.status is None:
            raise ValueError("Give a title, a status, or both")
        return self


class StudyPublic(Public):
    id: uuid.UUID
    organization_id: uuid.UUID
    title: str
    status: StudyStatus
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class MyStudyPublic(StudyPublic):
    """A study in the caller's own list, with the caller's role on it."""

    role: StudyRole


class CollaboratorCreate(Body):
    user_id: uuid.UUID = Field(examples=["5a8f2c1e-3b4d-4e6f-8a9b-0c1d2e3f4a5b"])
    role: StudyRole = Field(default=StudyRole.VIEWER, examples=["editor"])


class CollaboratorUpdate(Body):
    role: StudyRole


class CollaboratorPublic(Public):
    user_id: uuid.UUID
    email: str
    name: str
    role: StudyRole
    added_at: datetime


class ActivityPublic(Public):
    id: uuid.UUID
    study_id: uuid.UUID
    actor_id: uuid.UUID | None
    actor_name: str | None
    verb: str
    object_type: str
    object_id: uuid.UUID | None
    at: datetime


class PermissionsPublic(Public):
    study_id: uuid.UUID
    user_id: uuid.UUID
    study_role: StudyRole | None
    organization_role: OrgRole | None
    can_view: bool
    can_comment: bool
    can_edit: bool
    can_manage_collaborators: bool
    can_moderate_comments: bool
