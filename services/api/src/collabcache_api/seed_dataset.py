"""The demo dataset's shapes: its sizes (`SeedConfig`), its rows per table (`Dataset`), the one
source of randomness, and what the content generator (`seed_content`) needs to know of the
people and organizations `seed` made.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

DAY = timedelta(days=1)

# Load order (foreign keys first) and the columns of every table's rows.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "email", "name", "is_platform_admin", "created_at", "updated_at"),
    "organizations": ("id", "name", "created_at", "updated_at"),
    "organization_members": ("organization_id", "user_id", "role", "created_at", "updated_at"),
    "teams": ("id", "organization_id", "name", "created_at", "updated_at"),
    "team_members": ("team_id", "user_id", "created_at"),
    "studies": (
        "id",
        "organization_id",
        "title",
        "status",
        "created_by",
        "created_at",
        "updated_at",
    ),
    "study_collaborators": ("study_id", "user_id", "role", "created_at", "updated_at"),
    "comments": ("id", "study_id", "author_id", "body", "resolved", "created_at", "updated_at"),
    "activity": ("id", "study_id", "actor_id", "verb", "object_type", "object_id", "at"),
}

Row = tuple[Any, ...]


@dataclass(frozen=True)
class SeedConfig:
    organizations: int = 50
    users: int = 2_000
    teams: int = 300
    studies: int = 1_000
    comments: int = 20_000
    seed: int = 42

    @classmethod
    def scaled(cls, scale: float = 1.0, seed: int = 42, **overrides: int | None) -> SeedConfig:
        """The default sizes times `scale` (never below `MINIMUMS`), then explicit overrides."""
        if scale <= 0:
            raise ValueError("scale must be positive")
        base = cls()
        sizes = {name: max(MINIMUMS[name], round(getattr(base, name) * scale)) for name in MINIMUMS}
        for name, value in overrides.items():
            if value is not None:
                if value < MINIMUMS[name]:
                    raise ValueError(f"{name} must be at least {MINIMUMS[name]}")
                sizes[name] = value
        return replace(base, seed=seed, **sizes)


# owner@ needs several organizations; every organization needs an owner among the users.
MINIMUMS = {"organizations": 3, "users": 10, "teams": 0, "studies": 1, "comments": 0}


@dataclass
class Dataset:
    """Rows per table, in `TABLE_COLUMNS` order, plus what the tests and the CLI look up."""

    users: list[Row] = field(default_factory=list)
    organizations: list[Row] = field(default_factory=list)
    organization_members: list[Row] = field(default_factory=list)
    teams: list[Row] = field(default_factory=list)
    team_members: list[Row] = field(default_factory=list)
    studies: list[Row] = field(default_factory=list)
    study_collaborators: list[Row] = field(default_factory=list)
    comments: list[Row] = field(default_factory=list)
    activity: list[Row] = field(default_factory=list)

    def tables(self) -> Iterator[tuple[str, tuple[str, ...], list[Row]]]:
        for table, columns in TABLE_COLUMNS.items():
            yield table, columns, getattr(self, table)

    def counts(self) -> dict[str, int]:
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}

    def user_id(self, email: str) -> uuid.UUID:
        found: uuid.UUID = next(row[0] for row in self.users if row[1] == email)
        return found


class Randomness:
    """The one source of randomness: values, UUIDs and instants relative to `now`."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def days_ago(self, low: float, high: float) -> datetime:
        return self.now - self.rng.uniform(low, high) * DAY

    def between(self, start: datetime, end: datetime) -> datetime:
        fraction = self.rng.random()  # drawn even when unused: `now` never shifts the sequence
        return start + (end - start) * fraction if end > start else start


@dataclass
class Org:
    id: uuid.UUID
    created_at: datetime
    members: dict[uuid.UUID, str] = field(default_factory=dict)  # user id -> role
    joined: dict[uuid.UUID, datetime] = field(default_factory=dict)  # user id -> since


@dataclass
class People:
    """What the content generator needs to know about users and organizations."""

    orgs: list[Org]
    user_created: dict[uuid.UUID, datetime]
    generic_users: list[uuid.UUID]
    admin: uuid.UUID
    owner: uuid.UUID
    member: uuid.UUID
