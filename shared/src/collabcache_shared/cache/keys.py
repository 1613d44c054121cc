"""The key registry and TTL policy: the one place where cache keys are made.

Every key is `<prefix>:v<SCHEMA_VERSION>:{<scope>}:<suffix>`. An entry is a Redis hash holding
every variant of one scope (each page of a paginated list is a field), so invalidating a scope
removes every page of it with one `UNLINK`, and every cache operation touches one key: a single
hash slot, hence Redis Cluster safe by construction (`EntryStore.invalidate` sends many keys
in one command only to a standalone Redis, where there are no slots). The braces are a hash
tag, so a scope and anything later derived from it stay in one slot.

Identifiers never reach a key unvalidated: every id is parsed as a UUID (a `*`, `:` or `{` in
a request cannot widen a pattern or split a hash tag).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

# Bump when the shape of any cached response changes: a deploy then never reads old entries.
SCHEMA_VERSION = 2


class Family(StrEnum):
    USER_PERMISSIONS = "USER_PERMISSIONS"
    STUDY_ACTIVITY = "STUDY_ACTIVITY"
    SYSTEM_STATS = "SYSTEM_STATS"
    ORGANIZATION_MEMBERS = "ORGANIZATION_MEMBERS"
    STUDY_COLLABORATORS = "STUDY_COLLABORATORS"
    TEAM_MEMBERS = "TEAM_MEMBERS"
    USER_ORGANIZATIONS = "USER_ORGANIZATIONS"
    ORGANIZATION_TEAMS = "ORGANIZATION_TEAMS"
    ORGANIZATION_ANALYTICS = "ORGANIZATION_ANALYTICS"
    TEAM_ANALYTICS = "TEAM_ANALYTICS"
    STUDY_COMMENTS = "STUDY_COMMENTS"
    USER_COLLABORATIVE_STUDIES = "USER_COLLABORATIVE_STUDIES"


@dataclass(frozen=True, slots=True)
class FamilyPolicy:
    template: str  # the scope, with `{}` for each identifier
    ttl: timedelta
    id_count: int
    user_specific: bool = False  # the key includes the user whose data it holds
    serve_stale: bool = False  # may be served stale for a bounded time while one refresh runs
    # False: an entry stores no ETag (`Entry.etag` is empty): what it holds is never served as
    # it is, and the response made from it carries the ETag of its own bytes.
    stores_etag: bool = True


_MIN = timedelta(minutes=1)
_H = timedelta(hours=1)

POLICIES: dict[Family, FamilyPolicy] = {
    # USER_PERMISSIONS is one hash per user: a field per study, organization or team holds the
    # user's standing there, a compact record (README, "Standing records"). One UNLINK then
    # drops every right of a user after any change to their memberships, with no fan-out
    # over an organization's studies. The table's `permissions:{user}:{study}` is the field.
    Family.USER_PERMISSIONS: FamilyPolicy(
        "permissions:{}", 15 * _MIN, 1, user_specific=True, stores_etag=False
    ),
    Family.STUDY_ACTIVITY: FamilyPolicy("study:{}:activity", 15 * _MIN, 1),
    Family.SYSTEM_STATS: FamilyPolicy("system:stats", 15 * _MIN, 0),
    Family.ORGANIZATION_MEMBERS: FamilyPolicy("org:{}:members", _H, 1),
    Family.STUDY_COLLABORATORS: FamilyPolicy("study:{}:collaborators", _H, 1),
    Family.TEAM_MEMBERS: FamilyPolicy("team:{}:members", _H, 1),
    Family.USER_ORGANIZATIONS: FamilyPolicy("user:{}:organizations", 4 * _H, 1, True),
    Family.ORGANIZATION_TEAMS: FamilyPolicy("org:{}:teams", 4 * _H, 1),
    Family.ORGANIZATION_ANALYTICS: FamilyPolicy("org:{}:analytics", 24 * _H, 1, serve_stale=True),
    Family.TEAM_ANALYTICS: FamilyPolicy("team:{}:analytics", 24 * _H, 1, serve_stale=True),
    Family.STUDY_COMMENTS: FamilyPolicy("study:{}:comments", 2 * _H, 1),
    Family.USER_COLLABORATIVE_STUDIES: FamilyPolicy(
        "user:{}:collaborative_studies", 2 * _H, 1, user_specific=True
    ),
}


class InvalidIdentifier(ValueError):
    """An identifier that is not a UUID: refused before it could reach a key."""


# Keys already made from one UUID, by family and the UUID's value: `str(UUID)` and a frozen
# dataclass are slow Python, and the invalidator makes the same organizations', studies',
# teams' and users' keys over and over. Emptied when full (~3.5 MB per process at 10,000;
# 50,000 measured 16.7 MB).
_ONE_ID_KEYS: dict[tuple[Family, int], CacheKey] = {}
_ONE_ID_KEYS_SIZE = 10_000


def _canonical(identifier: uuid.UUID | str) -> str:
    if isinstance(identifier, uuid.UUID):
        return str(identifier)
    try:
        return str(uuid.UUID(identifier))
    except (ValueError, AttributeError, TypeError) as exc:
        raise InvalidIdentifier(f"not a UUID: {identifier!r}") from exc


@dataclass(frozen=True, slots=True)
class CacheKey:
    """One entry: a family and the identifiers of its scope (an org, a study, a user...)."""

    family: Family
    ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, family: Family, *ids: uuid.UUID | str) -> CacheKey:
        policy = POLICIES[family]
        if len(ids) != policy.id_count:
            raise InvalidIdentifier(f"{family} takes {policy.id_count} identifier(s)")
        if len(ids) == 1 and type(ids[0]) is uuid.UUID:
            return _of_one_uuid(family, ids[0])
        return cls(family, tuple([_canonical(i) for i in ids]))

    @property
    def policy(self) -> FamilyPolicy:
        return POLICIES[self.family]

    @property
    def scope(self) -> str:
        return self.policy.template.format(*self.ids)


def _of_one_uuid(family: Family, identifier: uuid.UUID) -> CacheKey:
    made = (family, identifier.int)
    key = _ONE_ID_KEYS.get(made)
    if key is None:
        if len(_ONE_ID_KEYS) >= _ONE_ID_KEYS_SIZE:
            _ONE_ID_KEYS.clear()
        key = _ONE_ID_KEYS[made] = CacheKey(family, (str(identifier),))
    return key


@dataclass(frozen=True, slots=True)
class KeySpace:
    """Turns registry keys into Redis key names under a deployment's prefix and schema version."""

    prefix: str = "cc"
    version: int = SCHEMA_VERSION

    @property
    def root(self) -> str:
        return f"{self.prefix}:v{self.version}"

    def entry(self, key: CacheKey) -> str:
        scope = POLICIES[key.family].template.format(*key.ids)  # `key.scope`, inlined (hot)
        return f"{self.prefix}:v{self.version}:{{{scope}}}"

    def generation(self, family: Family) -> str:
        """The family's generation counter: bumping it retires every entry of the family."""
        return f"{self.root}:gen:{{{family.value}}}"

    def lock(self, name: str) -> str:
        """A deployment-wide lock's key (held by one process: the warm at start)."""
        return f"{self.root}:lock:{name}"

    def stream(self, name: str) -> str:
        """A stream's Redis key (stream names are constants in `collabcache_shared.events`)."""
        return f"{self.prefix}:{name}"


def ttl_of(family: Family) -> timedelta:
    return POLICIES[family].ttl
