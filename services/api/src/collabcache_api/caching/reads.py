"""What a cached GET is made of, declared once beside its endpoint (README, "The hit path"):
the entry that holds its pages, and the caller's standing that guards it. The endpoint serves
itself through it (`CachedReads.read`), and the hit path in front of FastAPI reads the same
declaration off the route, so the two can never disagree on a key.

    async def load_members(session, ids, user_id, page):
        return await service.list_members(session, ids["org_id"], paged(page))

    MEMBERS = CachedRead(
        Family.ORGANIZATION_MEMBERS, key_param="org_id", guard=org_standing, load=load_members
    )

    @router.get("/{org_id}/members")
    @MEMBERS.serves
    async def list_members(...): return await cache.read(MEMBERS, {"org_id": org_id}, page)

The declared `load` is the one way the read's body is loaded: by the endpoint, and by whatever
fills the entry ahead of a request (`refill`, README "Cache warming").
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.keys import POLICIES, CacheKey, Family
from collabcache_shared.cache.store import Slot

from ..pagination import PageRequest
from .access_records import Standing, user_slot

ATTRIBUTE = "__cached_read__"
# Where the hit path leaves a miss's lookup in the request scope's state, for the endpoint.
LOOKED_UP = "collabcache.looked_up"
F = TypeVar("F", bound=Callable[..., Any])
# A read's body from the database: (session, path ids, caller, page: None when not paginated).
ReadLoader = Callable[
    [AsyncSession, Mapping[str, uuid.UUID], uuid.UUID, PageRequest | None], Awaitable[BaseModel]
]


@dataclass(frozen=True, slots=True)
class CachedRead:
    family: Family
    # The path parameter naming the entry's resource; None: the caller's own entry.
    key_param: str | None = None
    # The caller's standing on the resource `guard_param` names: it must let them see it.
    guard: Callable[[uuid.UUID], Standing] | None = None
    guard_param: str | None = None
    paginated: bool = True
    # The response is rendered from the guarding standing record (GET .../permissions): no
    # `load`.
    is_standing: bool = False
    load: ReadLoader | None = None

    @property
    def serve_stale(self) -> bool:
        """Whether the entry may be served stale (its refresh then outlives the request)."""
        return POLICIES[self.family].serve_stale and not self.is_standing

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


def paged(page: PageRequest | None) -> PageRequest:
    """The page of a paginated read's loader (always given one)."""
    if page is None:
        raise TypeError("a paginated read is loaded one page at a time")
    return page


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
