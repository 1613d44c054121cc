"""The caller's standing, cached: authorization without a database query on a hit.

A user's standing on an organization, a team or a study is a field of their USER_PERMISSIONS
entry (`permissions:{user}`, field `org:<id>`, `team:<id>` or `study:<id>`). Any change to
their memberships or collaborations drops the whole entry, so a removed member loses access
on the very next request. A standing on something that does not exist is not cached: a
resource created later under that id must not inherit a cached refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.keys import CacheKey, Family
from collabcache_shared.cache.store import Slot

from .. import access
from ..errors import NotFound
from ..models import MANAGER_ROLES
from ..studies.service import my_permissions
from ..teams.repository import get_team


class ResourceMissing(Exception):
    """The resource does not exist: answer 404 and cache nothing."""


@dataclass(frozen=True, slots=True)
class Standing:
    kind: str  # "org", "team" or "study"
    resource_id: uuid.UUID
    not_found: str

    def slot(self, user_id: uuid.UUID) -> Slot:
        return Slot(
            CacheKey.of(Family.USER_PERMISSIONS, user_id), f"{self.kind}:{self.resource_id}"
        )

    def loader(self, session: AsyncSession, user_id: uuid.UUID) -> Callable[[], Awaitable[bytes]]:
        return lambda: _LOADERS[self.kind](session, user_id, self.resource_id)

    def check(self, body: bytes) -> None:
        """Raise 404 unless the cached standing lets the caller see the resource."""
        if not orjson.loads(body).get("can_view"):
            raise NotFound(self.not_found)


def org_standing(org_id: uuid.UUID) -> Standing:
    return Standing("org", org_id, "Organization not found")


def team_standing(team_id: uuid.UUID) -> Standing:
    return Standing("team", team_id, "Team not found")


def study_standing(study_id: uuid.UUID) -> Standing:
    return Standing("study", study_id, "Study not found")


async def _org(session: AsyncSession, user_id: uuid.UUID, org_id: uuid.UUID) -> bytes:
    exists, role = await access.org_standing_of(session, org_id, user_id)
    if not exists:
        raise ResourceMissing
    return orjson.dumps(
        {
            "organization_role": role,
            "can_view": role is not None,
            "can_manage": role in MANAGER_ROLES,
        }
    )


async def _team(session: AsyncSession, user_id: uuid.UUID, team_id: uuid.UUID) -> bytes:
    team = await get_team(session, team_id)
    if team is None:
        raise ResourceMissing
    role = await access.org_role_of(session, team.organization_id, user_id)
    return orjson.dumps(
        {
            "organization_id": str(team.organization_id),
            "organization_role": role,
            "can_view": role is not None,
        }
    )


async def _study(session: AsyncSession, user_id: uuid.UUID, study_id: uuid.UUID) -> bytes:
    """The same body GET .../permissions answers (that endpoint serves this very field)."""
    try:
        permissions = await my_permissions(session, user_id, study_id)
    except NotFound:
        if await access.study_exists(session, study_id):
            return orjson.dumps({"study_id": study_id, "user_id": user_id, "can_view": False})
        raise ResourceMissing from None
    return permissions.model_dump_json().encode()


_LOADERS = {"org": _org, "team": _team, "study": _study}
