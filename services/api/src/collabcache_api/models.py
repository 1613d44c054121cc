"""The tables of the collaboration platform (SQLModel, PostgreSQL).

Roles and statuses are plain strings guarded by CHECK constraints: adding a value is a one-line
migration, with none of the ALTER TYPE pain of PostgreSQL enums. Composite primary keys on the
membership tables make a duplicate membership impossible (the API answers 409).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel


class OrgRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class StudyRole(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


class StudyStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    ARCHIVED = "archived"


MANAGER_ROLES = frozenset({OrgRole.OWNER, OrgRole.ADMIN})


def utcnow() -> datetime:
    return datetime.now(UTC)


def _check_in(column: str, values: type[StrEnum], name: str) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


def _created_at() -> Any:  # a Field, declared on `created_at: datetime` attributes
    return Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now(), "nullable": False},
    )


def _updated_at() -> Any:  # a Field, declared on `updated_at: datetime` attributes
    return Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now(), "nullable": False, "onupdate": func.now()},
    )


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_email_lower", text("lower(email)"), unique=True),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=320)
    name: str = Field(max_length=200)
    is_platform_admin: bool = Field(
        default=False, sa_column_kwargs={"server_default": text("false")}
    )
    created_at: datetime = _created_at()
    updated_at: datetime = _updated_at()


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    created_at: datetime = _created_at()
    updated_at: datetime = _updated_at()


class OrganizationMember(SQLModel, table=True):
    __tablename__ = "organization_members"
    __table_args__ = (
        _check_in("role", OrgRole, "ck_organization_members_role"),
        Index("ix_organization_members_user", "user_id", "created_at", "organization_id"),
        Index("ix_organization_members_org_page", "organization_id", "created_at", "user_id"),
    )

    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(max_length=20)
    created_at: datetime = _created_at()
    updated_at: datetime = _updated_at()


class Team(SQLModel, table=True):
    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("organization_id", "name", name="uq_teams_org_name"),
        Index("ix_teams_org_page", "organization_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    created_at: datetime = _created_at()
    updated_at: datetime = _updated_at()


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_members"
    __table_args__ = (
        Index("ix_team_members_user", "user_id"),
        Index("ix_team_members_team_page", "team_id", "created_at", "user_id"),
    )

    team_id: uuid.UUID = Field(foreign_key="teams.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = _created_at()


class Study(SQLModel, table=True):
    __tablename__ = "studies"
    __table_args__ = (
        _check_in("status", StudyStatus, "ck_studies_status"),
        Index("ix_studies_org", "organization_id", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", ondelete="CASCADE")
    title: str = Field(max_length=300)
    status: str = Field(
        default=StudyStatus.DRAFT.value,
        max_length=20,
        sa_column_kwargs={"server_default": StudyStatus.DRAFT.value},
    )
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = _created_at()
    updated_at: datetime = _updated_at()


class StudyCollaborator(SQLModel, table=True):
    __tablename__ = "study_collaborators"
    __table_args__ = (
        _check_in("role", StudyRole, "ck_study_collaborators_role"),
        Index("ix_study_collaborators_user_page", "user_id", "created_at", "study_id"),
        Index("ix_study_collaborators_study_page", "study_id", "created_at", "user_id"),
    )

    study_id: uuid.UUID = Field(foreign_key="studies.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(max_length=20)
    created_at: datetime = _created_at()
    updated_at: datetime = _updated_at()


class Comment(SQLModel, table=True):
    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_study_page", "study_id", "created_at", "id"),
        Index("ix_comments_author_created", "author_id", "created_at"),
        Index("ix_comments_created", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id", ondelete="CASCADE")
    author_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    body: str
    resolved: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    created_at: datetime = _created_at()
    updated_at: datetime = _updated_at()


class Activity(SQLModel, table=True):
    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_study_page", "study_id", "at", "id"),
        Index("ix_activity_actor_at", "actor_id", "at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id", ondelete="CASCADE")
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    verb: str = Field(max_length=50)
    object_type: str = Field(max_length=50)
    object_id: uuid.UUID | None = None
    at: datetime = _created_at()
