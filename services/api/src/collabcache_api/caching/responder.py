"""Serving a GET through the cache: the caller's standing first, then the response bytes.

A hit costs one Redis round trip: the standing and the response are looked up together.
Responses carry `X-Cache`, a strong `ETag` (the stored content hash), `Cache-Control:
private, no-cache`, and `Age` when served stale; `If-None-Match` answers 304. A request
with `Cache-Control: no-cache` is read fresh from the database and refreshes the entry.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.cache.manager import CacheManager, Result
from collabcache_shared.cache.store import Found, Slot

from .. import db
from ..bootstrap import Container
from ..deps import ClaimedUserId, ContainerDep, SessionDep
from ..pagination import PageRequest
from .access_records import Standing, user_loader, user_slot
from .answers import cached_response, note_lookup
from .reads import LOOKED_UP, CachedRead

M = TypeVar("M", bound=BaseModel)


class CachedReads:
    def __init__(
        self, request: Request, container: Container, session: AsyncSession, user_id: uuid.UUID
    ) -> None:
        self.request = request
        self.container = container
        self.session = session
        self.user_id = user_id
        self.refresh = "no-cache" in request.headers.get("cache-control", "").lower()

    async def read(
        self, read: CachedRead, ids: Mapping[str, uuid.UUID], page: PageRequest | None = None
    ) -> Response:
        """The response of a declared read (`reads.CachedRead`), the hit path's twin."""
        standing = read.standing(ids)
        if read.is_standing:
            assert standing is not None
            return await self.respond_standing(standing)
        variant = page.variant if page is not None else "-"
        key = read.key(ids, self.user_id)
        response = await self.respond(key, self._loader(read, ids, page), variant, standing)
        if self.container.refresh_ahead is not None:
            self.container.refresh_ahead.note(read, ids, self.user_id, variant)
        return response

    def _loader(
        self, read: CachedRead, ids: Mapping[str, uuid.UUID], page: PageRequest | None
    ) -> Callable[[], Awaitable[BaseModel]]:
        """The read's declared loader, in the request's session or (served stale: refreshed
        after the response) in one of its own."""
        load = read.load
        assert load is not None
        user_id = self.user_id
        if read.serve_stale:  # holds no request: its refresh may start seconds later
            return in_own_session(self.container, lambda own: load(own, ids, user_id, page))
        return lambda: load(self.session, ids, user_id, page)

    async def respond(
        self,
        key: CacheKey,
        load: Callable[[], Awaitable[BaseModel]],
        variant: str = "-",
        standing: Standing | None = None,
    ) -> Response:
        """The response for `key`/`variant`, once the caller's `standing` allows it."""
        started = time.perf_counter()
        cache = self.container.cache
        slot = Slot(key, variant)

        async def load_body() -> bytes:
            return (await load()).model_dump_json().encode()

        if cache is None:  # the same checks, each from the database
            await self._user_loader()()
            if standing is not None:
                standing.check(await self._standing_loader(standing)())
            result = await CacheManager.uncached(load_body)
        else:
            own = [standing.slot(self.user_id)] if standing else []
            found = await self._lookup(cache, [user_slot(self.user_id), *own, slot])
            await self._check_user(cache, found[0] if found else None)
            if standing is not None:
                await self._check(cache, standing, found[1] if found else None)
            result = await self._get(cache, slot, load_body, found[-1] if found else None)
        return self._answer(key, result, started)

    async def _lookup(self, cache: CacheManager, slots: list[Slot]) -> list[Found] | None:
        """The hit path's lookup of these very slots when it fell through (a miss, or Redis
        unusable: None), or one now."""
        looked = self.request.scope.get("state", {}).pop(LOOKED_UP, None)
        if looked is not None and looked[0] == slots:
            found: list[Found] | None = looked[1]
            return found
        return await cache.lookup(slots)

    async def respond_standing(self, standing: Standing) -> Response:
        """For GET .../permissions: the response is rendered from the standing record."""
        started = time.perf_counter()
        cache = self.container.cache
        slot = standing.slot(self.user_id)
        if cache is None:
            await self._user_loader()()
            result = await CacheManager.uncached(self._standing_loader(standing))
        else:
            looked = await self._lookup(cache, [user_slot(self.user_id), slot])
            await self._check_user(cache, looked[0] if looked else None)
            result = await self._standing(cache, standing, looked[1] if looked else None)
        standing.check(result.body)
        return self._answer(slot.key, standing.response(result, self.user_id), started)

    def _user_loader(self) -> Callable[[], Awaitable[bytes]]:
        return user_loader(self.session, self.user_id)

    async def _check_user(self, cache: CacheManager, found: Found | None) -> None:
        """401 unless the token's user exists (a hit costs nothing more: same round trip)."""
        slot = user_slot(self.user_id)
        await self._get(cache, slot, self._user_loader(), found, refresh=False)

    async def _check(self, cache: CacheManager, standing: Standing, found: Found | None) -> None:
        standing.check((await self._standing(cache, standing, found)).body)

    async def _standing(
        self, cache: CacheManager, standing: Standing, found: Found | None
    ) -> Result:
        slot = standing.slot(self.user_id)
        load = self._standing_loader(standing)
        return await self._get(cache, slot, load, found, refresh=False)

    def _standing_loader(self, standing: Standing) -> Callable[[], Awaitable[bytes]]:
        return standing.loader(self.session, self.user_id)

    async def _get(
        self,
        cache: CacheManager,
        slot: Slot,
        load: Callable[[], Awaitable[bytes]],
        found: Found | None,
        *,
        refresh: bool | None = None,
    ) -> Result:
        if found is None:  # Redis is not usable right now: straight to the database
            return await cache.bypass(load)
        refresh = self.refresh if refresh is None else refresh
        return await cache.get_or_load(slot, load, found=found, refresh=refresh)

    def _answer(self, key: CacheKey, result: Result, started: float) -> Response:
        response = cached_response(result, self.request.headers.get("if-none-match"))
        route = self.request.scope.get("route")
        endpoint = getattr(route, "path", "unknown")
        note_lookup(self.container.cache_events, endpoint, key, result, started)
        return response


async def get_cached_reads(
    request: Request, container: ContainerDep, session: SessionDep, user_id: ClaimedUserId
) -> CachedReads:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a costly hop per request.
    return CachedReads(request, container, session, user_id)


CachedReadsDep = Annotated[CachedReads, Depends(get_cached_reads)]


def in_own_session(
    container: Container, load: Callable[[AsyncSession], Awaitable[M]]
) -> Callable[[], Awaitable[M]]:
    """A loader with a unit of work of its own, for families that may be served stale:
    their refresh runs in the background after the response, when the request's session
    is being closed (sharing it races its close and leaks the connection it reopens)."""

    async def run() -> M:
        async with db.unit_of_work(container.sessions) as session:
            return await load(session)

    return run
