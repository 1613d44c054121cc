from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from ..models import OrgRole
from ..schemas import Body, Name, Public


class OrganizationCreate(Body):
    name: Name = Field(examples=["Cell Biology Lab"])


class OrganizationUpdate(Body):
    name: Name


class OrganizationPublic(Public):
    id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime


class MyOrganizationPublic(OrganizationPublic):
    """An organization as its member sees it in their own list: with their role."""

    role: OrgRole
    joined_at: datetime


class MemberCreate(Body):
    user_id: uuid.UUID = Field(examples=["5a8f2c1e-3b4d-4e6f-8a9b-0c1d2e3f4a5b"])
    role: OrgRole = Field(default=OrgRole.MEMBER, examples=["admin"])


class MemberUpdate(Body):
    role: OrgRole


class MemberPublic(Public):
    user_id: uuid.UUID
    email: str
    name: str
    role: OrgRole
    joined_at: datetime
