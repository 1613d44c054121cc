"""Who may see and change what: the access rules every endpoint applies.

- organization data needs membership of that organization;
- study data needs being a collaborator of the study or an owner/admin of its organization;
- role changes need owner/admin;
- whatever the caller may not see answers 404, so that existence does not leak.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from .errors import Forbidden, NotFound
from .models import (
    MANAGER_ROLES,
    OrganizationMember,
    OrgRole,
    Study,
    StudyCollaborator,
    StudyRole,
    Team,
)


@dataclass(frozen=True, slots=True)
class StudyRoles:
    """A user's roles on a study and in its organization: what every study right follows from."""

    study_role: StudyRole | None
    org_role: OrgRole | None

    @property
    def is_org_manager(self) -> bool:
        return self.org_role in MANAGER_ROLES

    @property
    def can_view(self) -> bool:
        return self.study_role is not None or self.is_org_manager

    @property
    def can_edit(self) -> bool:
        return self.study_role in {StudyRole.OWNER, StudyRole.EDITOR} or self.is_org_manager

    @property
    def can_comment(self) -> bool:
        return self.can_edit

    @property
    def can_manage_collaborators(self) -> bool:
        return self.study_role is StudyRole.OWNER or self.is_org_manager

    @property
    def can_moderate_comments(self) -> bool:
        """Resolve or delete anybody's comment."""
        return self.can_manage_collaborators


@dataclass(frozen=True, slots=True)
class StudyAccess(StudyRoles):
    study: Study


async def org_role_of(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID
) -> OrgRole | None:
    role = await session.scalar(
        select(OrganizationMember.role).where(
            OrganizationMember.organization_id == org_id, OrganizationMember.user_id == user_id
        )
    )
    return OrgRole(role) if role is not None else None


async def require_team_member(
    session: AsyncSession, *, team_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[Team, OrgRole]:
    """The team and the user's role in its organization: a team is visible to the members of
    its organization. 404 when the user is no member of it or the team does not exist, by one
    query either way."""
    row = (
        await session.execute(
            select(Team, OrganizationMember.role)
            .join(
                OrganizationMember,
                col(OrganizationMember.organization_id) == Team.organization_id,
            )
            .where(Team.id == team_id, OrganizationMember.user_id == user_id)
        )
    ).first()
    if row is None:
        raise NotFound("Team not found")
    return row[0], OrgRole(row[1])


async def require_org_member(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID
) -> OrgRole:
    role = await org_role_of(session, org_id=org_id, user_id=user_id)
    if role is None:
        raise NotFound("Organization not found")
    return role


async def require_org_manager(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID
) -> OrgRole:
    role = await require_org_member(session, org_id=org_id, user_id=user_id)
    if role not in MANAGER_ROLES:
        raise Forbidden("Only an owner or admin of the organization may do this")
    return role


async def study_exists(session: AsyncSession, study_id: uuid.UUID) -> bool:
    return (await session.scalar(select(Study.id).where(Study.id == study_id))) is not None


async def study_access(
    session: AsyncSession, *, study_id: uuid.UUID, user_id: uuid.UUID
) -> StudyAccess:
    """The caller's standing on a study; 404 if the caller may not see it."""
    query = studies_with_roles(user_id).where(Study.id == study_id)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("Study not found")
    access = study_access_of(row[0], row[1], row[2])
    if not access.can_view:
        raise NotFound("Study not found")
    return access


def studies_with_roles(user_id: uuid.UUID) -> Select[Study, str, str]:
    """Studies with the user's role on each and in its organization (None: none)."""
    return (
        select(Study, StudyCollaborator.role, OrganizationMember.role)
        .outerjoin(
            StudyCollaborator,
            (col(StudyCollaborator.study_id) == Study.id)
            & (col(StudyCollaborator.user_id) == user_id),
        )
        .outerjoin(
            OrganizationMember,
            (col(OrganizationMember.organization_id) == Study.organization_id)
            & (col(OrganizationMember.user_id) == user_id),
        )
    )


def study_access_of(study: Study, study_role: str | None, org_role: str | None) -> StudyAccess:
    return StudyAccess(
        study=study,
        study_role=StudyRole(study_role) if study_role else None,
        org_role=OrgRole(org_role) if org_role else None,
    )
