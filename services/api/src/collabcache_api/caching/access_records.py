"""The caller's standing, cached: authorization without a database query on a hit.

A user's standing on an organization, a team or a study is a field of their USER_PERMISSIONS
entry (`permissions:{user}`, field `org:<id>`, `team:<id>` or `study:<id>`). Any change to
their memberships or collaborations drops the whole entry, so a removed member loses access
on the very next request. Only a standing that lets the user see the resource is cached: a
refusal, of a resource they may not see or of one that does not exist, is answered 404 from
the database each time by the same single query, so neither the answer nor its timing tells
an outsider which it is, nothing grows with probes, and nothing cached can outlive a later
grant or creation (README, "Security").

Each standing is a compact record, not JSON (README, "Standing records"): its field is the
kind's letter and the resource's UUID in base64url (`o`, `t` or `s` + 22 characters), its body
the roles as one-byte codes: an org standing is the organization role (1 byte); a team's, that
role and the team's organization id (17 bytes); a study's, the study role and the organization
role (2 bytes, `-` for none). `allows` decides from those bytes; GET .../permissions renders its
JSON from the study record (`render_study_permissions`), with the ETag of what it renders. So a
user's whole entry stays a small Redis listpack, and no JSON is parsed on a hit.

The entry's `user` field records that the user exists: every cached read looks it up in the
same round trip as the standing and the page, so a token naming a user that does not exist
(never did, or was deleted: `user.changed.v1` drops the entry) is answered 401 with no
database query on a hit, and nothing is cached for it (README, "Security").
"""

from __future__ import annotations

import base64
import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.entry import etag_of
from collabcache_shared.cache.keys import CacheKey, Family
from collabcache_shared.cache.manager import Result
from collabcache_shared.cache.store import Slot

from .. import access, access_many
from ..access import StudyRoles
from ..errors import UNKNOWN_USER, NotFound, Unauthorized
from ..models import OrgRole, StudyRole
from ..studies.service import permissions_of
from ..users.repository import existing_users, user_exists

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


async def load_user_fields(
    session: AsyncSession, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, bytes]:
    """The `user` fields of many users by one query: those who exist (a warm's batch)."""
    return {user_id: USER_KNOWN for user_id in await existing_users(session, user_ids)}


@dataclass(frozen=True, slots=True)
class Standing:
    kind: str  # "org", "team" or "study"
    resource_id: uuid.UUID
    not_found: str

    def slot(self, user_id: uuid.UUID) -> Slot:
        return Slot(
            CacheKey.of(Family.USER_PERMISSIONS, user_id),
            standing_field(self.kind, self.resource_id),
        )

    def loader(self, session: AsyncSession, user_id: uuid.UUID) -> Callable[[], Awaitable[bytes]]:
        load = _LOADERS[self.kind]
        return lambda: load(session, user_id=user_id, resource_id=self.resource_id)

    def allows(self, record: bytes) -> bool:
        """Whether the standing record lets the caller see the resource (no parsing: a
        lookup of its bytes)."""
        return _ALLOWS[self.kind](record)

    def check(self, record: bytes) -> None:
        """Raise 404 unless the cached standing lets the caller see the resource."""
        if not self.allows(record):
            raise NotFound(self.not_found)

    def response(self, record: Result, user_id: uuid.UUID) -> Result:
        """GET .../permissions's answer, rendered from the study record (the ETag is that of
        the rendered body)."""
        body = render_study_permissions(record.body, study_id=self.resource_id, user_id=user_id)
        return Result(body, etag_of(body), record.outcome, record.age_s)


def org_standing(org_id: uuid.UUID) -> Standing:
    return Standing("org", org_id, "Organization not found")


def team_standing(team_id: uuid.UUID) -> Standing:
    return Standing("team", team_id, "Team not found")


def study_standing(study_id: uuid.UUID) -> Standing:
    return Standing("study", study_id, "Study not found")


_FIELD_LETTERS = {"org": "o", "team": "t", "study": "s"}


def standing_field(kind: str, resource_id: uuid.UUID) -> str:
    """The standing's field in the user's entry: a letter for the kind, the UUID's 16 bytes in
    base64url (22 characters, no padding)."""
    return _FIELD_LETTERS[kind] + base64.urlsafe_b64encode(resource_id.bytes)[:22].decode()


# The records. A role is one byte; NO_ROLE where there is none. A new role needs a code here
# (and SCHEMA_VERSION bumped if a code changes).
ORG_ROLE_CODES = {OrgRole.OWNER: b"o", OrgRole.ADMIN: b"a", OrgRole.MEMBER: b"m"}
STUDY_ROLE_CODES = {StudyRole.OWNER: b"o", StudyRole.EDITOR: b"e", StudyRole.VIEWER: b"v"}
NO_ROLE = b"-"
_ORG_ROLES = {code: role for role, code in ORG_ROLE_CODES.items()}
_STUDY_ROLES = {code: role for role, code in STUDY_ROLE_CODES.items()}


def encode_org_standing(organization_role: OrgRole) -> bytes:
    """A member's standing on their organization: their role's code."""
    return ORG_ROLE_CODES[organization_role]


def decode_org_standing(record: bytes) -> OrgRole:
    return _ORG_ROLES[record]


def encode_team_standing(organization_role: OrgRole, organization_id: uuid.UUID) -> bytes:
    """A standing on a team (a member of its organization): the role's code, then the
    organization's UUID (16 bytes)."""
    return ORG_ROLE_CODES[organization_role] + organization_id.bytes


def decode_team_standing(record: bytes) -> tuple[OrgRole, uuid.UUID]:
    """The organization role and the team's organization id."""
    if len(record) != 17:
        raise KeyError(record)
    return _ORG_ROLES[record[:1]], uuid.UUID(bytes=record[1:])


def encode_study_standing(study_role: StudyRole | None, organization_role: OrgRole | None) -> bytes:
    """A standing on a study: the study role's code, then the organization role's."""
    study = STUDY_ROLE_CODES[study_role] if study_role is not None else NO_ROLE
    org = ORG_ROLE_CODES[organization_role] if organization_role is not None else NO_ROLE
    return study + org


def decode_study_standing(record: bytes) -> StudyRoles:
    study, org = record[:1], record[1:]
    return StudyRoles(
        _STUDY_ROLES[study] if study != NO_ROLE else None,
        _ORG_ROLES[org] if org != NO_ROLE else None,
    )


def render_study_permissions(record: bytes, *, study_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
    """The JSON of GET .../permissions (`PermissionsPublic`), byte for byte, from the record."""
    return _permissions_head(study_id=study_id, user_id=user_id) + _permissions_tail(record)


def _permissions_head(*, study_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
    return b'{"study_id":"%s","user_id":"%s",' % (str(study_id).encode(), str(user_id).encode())


@functools.cache  # one per valid record: a handful (a record that does not decode raises)
def _permissions_tail(record: bytes) -> bytes:
    """What follows the ids in the JSON: the same for every study and user with these roles."""
    nil = uuid.UUID(int=0)
    roles = decode_study_standing(record)
    body = permissions_of(roles, study_id=nil, user_id=nil).model_dump_json().encode()
    head = _permissions_head(study_id=nil, user_id=nil)
    if not body.startswith(head):
        raise ValueError(f"PermissionsPublic no longer begins with the ids: {body!r}")
    return body[len(head) :]


_VISIBLE_STUDY_RECORDS = frozenset(
    encode_study_standing(study_role, org_role)
    for study_role in [*StudyRole, None]
    for org_role in [*OrgRole, None]
    if StudyRoles(study_role, org_role).can_view
)
_ALLOWS: dict[str, Callable[[bytes], bool]] = {
    "org": lambda record: record in _ORG_ROLES,
    "team": lambda record: len(record) == 17 and record[:1] in _ORG_ROLES,
    "study": lambda record: record in _VISIBLE_STUDY_RECORDS,
}


# Each loads the standing record of `user_id` on the resource `resource_id` (one kind each);
# only one that lets the user see the resource: 404 otherwise (nothing is cached).


async def _org(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    role = await access.org_role_of(session, org_id=resource_id, user_id=user_id)
    if role is None:
        raise NotFound("Organization not found")
    return encode_org_standing(role)


async def _team(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    team, role = await access.require_team_member(session, team_id=resource_id, user_id=user_id)
    return encode_team_standing(role, team.organization_id)


async def _study(session: AsyncSession, *, user_id: uuid.UUID, resource_id: uuid.UUID) -> bytes:
    standing = await access.study_access(session, study_id=resource_id, user_id=user_id)
    return encode_study_standing(standing.study_role, standing.org_role)


_LOADERS = {"org": _org, "team": _team, "study": _study}
STANDING_OF = {"org": org_standing, "team": team_standing, "study": study_standing}


async def load_standings(
    session: AsyncSession, kind: str, pairs: list[access_many.Pair]
) -> dict[access_many.Pair, bytes]:
    """The records of many (user, resource) standings on resources of one kind, by one query:
    those whose user may see the resource (a warm's batch, `warming`)."""
    if not pairs:
        return {}
    if kind == "org":
        roles = await access_many.org_roles(session, pairs)
        return {pair: encode_org_standing(role) for pair, role in roles.items()}
    if kind == "team":
        teams = await access_many.team_roles(session, pairs)
        return {pair: encode_team_standing(role, org_id) for pair, (org_id, role) in teams.items()}
    studies = await access_many.study_roles(session, pairs)
    return {
        pair: encode_study_standing(roles.study_role, roles.org_role)
        for pair, roles in studies.items()
    }
