from __future__ import annotations

import uuid
from datetime import datetime

from ..schemas import Body, Name, Public


class TeamCreate(Body):
    name: Name


class TeamUpdate(Body):
    name: Name


class TeamPublic(Public):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    member_count: int
    created_at: datetime
    updated_at: datetime


class TeamMemberCreate(Body):
    user_id: uuid.UUID


class TeamMemberPublic(Public):
    user_id: uuid.UUID
    email: str
    name: str
    added_at: datetime
