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

from .. import access, access_many
from ..access import StudyAccess
from ..errors import UNKNOWN_USER, NotFound, Unauthorized
from ..models import MANAGER_ROLES, OrgRole, Team
from ..studies.service import permissions_of
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


# The record of a standing that lets the user see the resource, one kind each (a refusal is
# never recorded).


def encode_org_standing(role: OrgRole) -> bytes:
    return orjson.dumps(
        {"organization_role": role, "can_view": True, "can_manage": role in MANAGER_ROLES}
    )


def encode_team_standing(team: Team, role: OrgRole) -> bytes:
    return orjson.dumps(
        {"organization_id": str(team.organization_id), "organization_role": role, "can_view": True}
    )


def encode_study_standing(standing: StudyAccess, user_id: uuid.UUID) -> bytes:
    """The same body GET .../permissions answers (that endpoint serves this very field)."""
    return permissions_of(standing, user_id).model_dump_json().encode()


# Each loads the standing of `user_id` on the resource `resource_id` (one kind each); 404
# when the user may not see it (refused).


async def _org(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    role = await access.org_role_of(session, org_id=resource_id, user_id=user_id)
    if role is None:
        raise NotFound("Organization not found")
    return encode_org_standing(role)


async def _team(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    team, role = await access.require_team_member(session, team_id=resource_id, user_id=user_id)
    return encode_team_standing(team, role)


async def _study(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    standing = await access.study_access(session, study_id=resource_id, user_id=user_id)
    return encode_study_standing(standing, user_id)


_LOADERS = {"org": _org, "team": _team, "study": _study}
STANDING_OF = {"org": org_standing, "team": team_standing, "study": study_standing}


async def load_standings(
    session: AsyncSession, user_id: uuid.UUID, kind: str, resource_ids: list[uuid.UUID]
) -> dict[uuid.UUID, bytes]:
    """The records of the user's standings on many resources of one kind, by one query: those
    the user may see (a warm's batch, `warming`)."""
    if kind == "org":
        roles = await access_many.org_roles(session, user_id=user_id, org_ids=resource_ids)
        return {rid: encode_org_standing(role) for rid, role in roles.items()}
    if kind == "team":
        teams = await access_many.team_roles(session, user_id=user_id, team_ids=resource_ids)
        return {rid: encode_team_standing(*found) for rid, found in teams.items()}
    studies = await access_many.study_accesses(session, user_id=user_id, study_ids=resource_ids)
    return {rid: encode_study_standing(found, user_id) for rid, found in studies.items()}
