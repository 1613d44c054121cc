from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel


class DayCount(BaseModel):
    day: date
    count: int


class ActiveUser(BaseModel):
    user_id: uuid.UUID
    name: str
    comments: int
    activities: int


class OrganizationAnalytics(BaseModel):
    organization_id: uuid.UUID
    window_days: int
    members_by_role: dict[str, int]
    studies_by_status: dict[str, int]
    comments_per_day: list[DayCount]
    most_active_collaborators: list[ActiveUser]
    generated_at: datetime


class TeamAnalytics(BaseModel):
    team_id: uuid.UUID
    organization_id: uuid.UUID
    window_days: int
    member_count: int
    comments_per_day: list[DayCount]
    studies_touched: int
    most_active_members: list[ActiveUser]
    generated_at: datetime


class SystemStats(BaseModel):
    users: int
    platform_admins: int
    organizations: int
    teams: int
    studies: int
    studies_by_status: dict[str, int]
    comments: int
    comments_last_24h: int
    activity_entries: int
    generated_at: datetime
