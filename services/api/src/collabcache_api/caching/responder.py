"""Serving a GET through the cache: the caller's standing first, then the response bytes.

A hit costs one Redis round trip: the standing and the response are looked up together.
Responses carry `X-Cache`, a strong `ETag` (the stored content hash), `Cache-Control:
private, no-cache`, and `Age` when served stale; `If-None-Match` answers 304. A request
with `Cache-Control: no-cache` is read fresh from the database and refreshes the entry.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.cache.manager import CacheManager, Result
from collabcache_shared.cache.store import Found, Slot

from .. import db
from ..bootstrap import Container
from ..deps import ClaimedUserId, ContainerDep, SessionDep
from .access_records import Standing, user_loader, user_slot

CACHE_CONTROL = "private, no-cache"
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

    async def respond(
        self,
        key: CacheKey,
        load: Callable[[], Awaitable[BaseModel]],
        *,
        variant: str = "-",
        standing: Standing | None = None,
    ) -> Response:
        """The response for `key`/`variant`, once the caller's `standing` allows it."""
        started = time.perf_counter()
        cache = self.container.cache
        slot = Slot(key, variant)

        async def load_body() -> bytes:
            return (await load()).model_dump_json().encode()

        if cache is None:
            await self._user_loader()()
            result = await CacheManager.uncached(load_body)
        else:
            own = [standing.slot(self.user_id)] if standing else []
            found = await cache.lookup([user_slot(self.user_id), *own, slot])
            await self._check_user(cache, found[0] if found else None)
            if standing is not None:
                await self._check(cache, standing, found[1] if found else None)
            result = await self._get(cache, slot, load_body, found[-1] if found else None)
        return self._answer(key, result, started)

    def in_own_session(
        self, load: Callable[[AsyncSession], Awaitable[M]]
    ) -> Callable[[], Awaitable[M]]:
        """A loader with a unit of work of its own, for families that may be served stale:
        their refresh runs in the background after the response, when the request's session
        is being closed (sharing it races its close and leaks the connection it reopens)."""

        async def run() -> M:
            async with db.unit_of_work(self.container.sessions) as session:
                return await load(session)

        return run

    async def respond_standing(self, standing: Standing) -> Response:
        """For GET .../permissions: the standing record is the response."""
        started = time.perf_counter()
        cache = self.container.cache
        slot = standing.slot(self.user_id)
        if cache is None:
            await self._user_loader()()
            result = await CacheManager.uncached(self._standing_loader(standing))
        else:
            looked = await cache.lookup([user_slot(self.user_id), slot])
            await self._check_user(cache, looked[0] if looked else None)
            result = await self._standing(cache, standing, looked[1] if looked else None)
        standing.check(result.body)
        return self._answer(slot.key, result, started)

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
        etag = f'"{result.etag}"'
        headers = {"ETag": etag, "X-Cache": result.outcome.value, "Cache-Control": CACHE_CONTROL}
        if result.age_s is not None:
            headers["Age"] = str(result.age_s)
        if_none_match = self.request.headers.get("if-none-match")
        if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
            response = Response(status_code=304, headers=headers)
        else:
            response = Response(result.body, media_type="application/json", headers=headers)
        span = trace.get_current_span()
        if span.is_recording():  # tracing on: the outcome on the request's span
            span.set_attribute("cache.result", result.outcome.value.lower())
            span.set_attribute("cache.family", key.family.value)
        self._report(key, result, started)
        return response

    def _report(self, key: CacheKey, result: Result, started: float) -> None:
        sink = self.container.cache_events
        if sink is None:
            return
        route = self.request.scope.get("route")
        endpoint = getattr(route, "path", "unknown")
        latency_ms = (time.perf_counter() - started) * 1000
        sink.record(endpoint, key.family.value, result.outcome.value, latency_ms, len(result.body))


async def get_cached_reads(
    request: Request, container: ContainerDep, session: SessionDep, user_id: ClaimedUserId
) -> CachedReads:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a costly hop per request.
    return CachedReads(request, container, session, user_id)


CachedReadsDep = Annotated[CachedReads, Depends(get_cached_reads)]
