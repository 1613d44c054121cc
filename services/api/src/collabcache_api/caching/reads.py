"""What a cached GET is made of, declared once beside its endpoint (README, "The hit path"):
the entry that holds its pages, and the caller's standing that guards it. The endpoint serves
itself through it (`CachedReads.read`), and the hit path in front of FastAPI reads the same
declaration off the route, so the two can never disagree on a key.

    MEMBERS = CachedRead(Family.ORGANIZATION_MEMBERS, key_param="org_id", guard=org_standing)

    @router.get("/{org_id}/members")
    @MEMBERS.serves
    async def list_members(...): return await cache.read(MEMBERS, {"org_id": org_id}, load, page)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from collabcache_shared.cache.keys import CacheKey, Family
from collabcache_shared.cache.store import Slot

from .access_records import Standing, user_slot

ATTRIBUTE = "__cached_read__"
# Where the hit path leaves a miss's lookup in the request scope's state, for the endpoint.
LOOKED_UP = "collabcache.looked_up"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class CachedRead:
    family: Family
    # The path parameter naming the entry's resource; None: the caller's own entry.
    key_param: str | None = None
    # The caller's standing on the resource `guard_param` names: it must let them see it.
    guard: Callable[[uuid.UUID], Standing] | None = None
    guard_param: str | None = None
    paginated: bool = True
    # The response is rendered from the guarding standing record (GET .../permissions).
    is_standing: bool = False

    def key(self, ids: Mapping[str, uuid.UUID], user_id: uuid.UUID) -> CacheKey:
        if self.is_standing:
            return CacheKey.of(Family.USER_PERMISSIONS, user_id)
        return CacheKey.of(self.family, ids[self.key_param] if self.key_param else user_id)

    def standing(self, ids: Mapping[str, uuid.UUID]) -> Standing | None:
        if self.guard is None:
            return None
        return self.guard(ids[self.guard_param or self.key_param or ""])

    def serves(self, endpoint: F) -> F:
        """Mark the endpoint as this read (what the hit path finds on its route)."""
        setattr(endpoint, ATTRIBUTE, self)
        return endpoint


def declared(endpoint: Callable[..., Any]) -> CachedRead | None:
    read = getattr(endpoint, ATTRIBUTE, None)
    return read if isinstance(read, CachedRead) else None


def slots_of(
    read: CachedRead, ids: Mapping[str, uuid.UUID], user_id: uuid.UUID, variant: str
) -> list[Slot]:
    """What one lookup fetches for this read, in order: that the caller exists, their standing
    (when guarded), then the page (none when the response is rendered from the standing)."""
    standing = read.standing(ids)
    if read.is_standing:
        assert standing is not None
        return [user_slot(user_id), standing.slot(user_id)]
    own = [standing.slot(user_id)] if standing else []
    return [user_slot(user_id), *own, Slot(read.key(ids, user_id), variant)]
