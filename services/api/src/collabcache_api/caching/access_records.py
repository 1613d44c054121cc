"""The caller's standing, cached: authorization without a database query on a hit.

A user's standing on an organization, a team or a study is a field of their USER_PERMISSIONS
entry (`permissions:{user}`, field `org:<id>`, `team:<id>` or `study:<id>`). Any change to
their memberships or collaborations drops the whole entry, so a removed member loses access
on the very next request. Only a standing that lets the user see the resource is cached: a
refusal, of a resource they may not see or of one that does not exist, is answered 404 from
the database each time by the same single query, so neither the answer nor its timing tells
an outsider which it is, nothing grows with probes, and nothing cached can outlive a later
grant or creation (README, "Security").

The entry's `user` field records that the user exists: every cached read looks it up in the
same round trip as the standing and the page, so a token naming a user that does not exist
(never did, or was deleted: `user.changed.v1` drops the entry) is answered 401 with no
database query on a hit, and nothing is cached for it (README, "Security").
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
from ..errors import UNKNOWN_USER, NotFound, Unauthorized
from ..models import MANAGER_ROLES
from ..studies.service import my_permissions
from ..users.repository import user_exists

USER_FIELD = "user"
USER_KNOWN = b'{"exists":true}'


def user_slot(user_id: uuid.UUID) -> Slot:
    return Slot(CacheKey.of(Family.USER_PERMISSIONS, user_id), USER_FIELD)


def user_loader(session: AsyncSession, user_id: uuid.UUID) -> Callable[[], Awaitable[bytes]]:
    """The `user` field's body; 401 (nothing to cache) when the user does not exist."""

    async def load() -> bytes:
        if not await user_exists(session, user_id):
            raise Unauthorized(UNKNOWN_USER)
        return USER_KNOWN

    return load


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
        load = _LOADERS[self.kind]
        return lambda: load(session, user_id=user_id, resource_id=self.resource_id)

    def allows(self, body: bytes) -> bool:
        """Whether the standing record lets the caller see the resource."""
        return bool(orjson.loads(body).get("can_view"))

    def check(self, body: bytes) -> None:
        """Raise 404 unless the cached standing lets the caller see the resource."""
        if not self.allows(body):
            raise NotFound(self.not_found)


def org_standing(org_id: uuid.UUID) -> Standing:
    return Standing("org", org_id, "Organization not found")


def team_standing(team_id: uuid.UUID) -> Standing:
    return Standing("team", team_id, "Team not found")


def study_standing(study_id: uuid.UUID) -> Standing:
    return Standing("study", study_id, "Study not found")


# Each loads the standing of `user_id` on the resource `resource_id` (one kind each).


async def _org(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    role = await access.org_role_of(session, org_id=resource_id, user_id=user_id)
    if role is None:
        raise NotFound("Organization not found")
    return orjson.dumps(
        {
            "organization_role": role,
            "can_view": role is not None,
            "can_manage": role in MANAGER_ROLES,
        }
    )


async def _team(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    team, role = await access.require_team_member(session, team_id=resource_id, user_id=user_id)
    return orjson.dumps(
        {"organization_id": str(team.organization_id), "organization_role": role, "can_view": True}
    )


async def _study(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    """The same body GET .../permissions answers (that endpoint serves this very field); 404
    when the user may not see the study (refused)."""
    permissions = await my_permissions(session, user_id=user_id, study_id=resource_id)
    return permissions.model_dump_json().encode()


_LOADERS = {"org": _org, "team": _team, "study": _study}
