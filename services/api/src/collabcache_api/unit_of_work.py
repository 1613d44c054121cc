"""A request's unit of work: one transaction, and the cache protocol around its commit.

A write runs `collect events → fence → commit → clear` (README, "The fenced cache protocol"):
before committing, the events its transaction recorded (`transaction_events`) name every cache
entry it affects (`collabcache_shared.invalidation`); a fence goes up on them, so no reader can
fill one with what it read before the commit; the commit; then the fence comes down and the
entries are dropped, before the response is sent. A fence that cannot be placed aborts the
write with 503 (nothing changed), unless `CACHE_FENCE_REQUIRED=false`.

Services and repositories never commit; this is the only place that does for a request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.errors import FenceUnavailable
from collabcache_shared.cache.fences import Fence
from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.invalidation import keys_for_events

from . import transaction_events
from .bootstrap import Container


@asynccontextmanager
async def request_transaction(
    container: Container, *, writes: bool, traceparent: str | None = None
) -> AsyncIterator[AsyncSession]:
    """The request's session; a write's events fence the cache before its commit."""
    async with container.sessions() as session:
        fence: Fence | None = None
        unfenced: set[CacheKey] = set()
        try:
            if writes:
                await transaction_events.carry_trace_context(session, traceparent)
            yield session
            if writes and session.in_transaction():
                fence, unfenced = await _before_commit(container, session)
        except BaseException:
            await session.rollback()
            raise
        try:
            if session.in_transaction():
                if fence is not None:
                    fence.check_deadline()
                await session.commit()
        finally:
            await _after_commit(container, fence, unfenced)


async def _before_commit(
    container: Container, session: AsyncSession
) -> tuple[Fence | None, set[CacheKey]]:
    """The fence on what the transaction changes; or, without one, the keys to drop after."""
    cache, settings = container.cache, container.cache_settings
    if cache is None or not settings.invalidate_inline:
        return None, set()
    keys = keys_for_events(await transaction_events.of_current_transaction(session))
    try:
        return await cache.fences.place(keys), set()
    except FenceUnavailable:
        if settings.fence_required:
            raise
        return None, keys  # the staleness bound of CACHE_FENCE_REQUIRED=false applies


async def _after_commit(container: Container, fence: Fence | None, unfenced: set[CacheKey]) -> None:
    """Clear the fence (retried until it would expire), or drop what could not be fenced.
    Runs whether or not the commit answered: clearing is always safe."""
    cache = container.cache
    if cache is None:
        return
    if fence is not None:
        await cache.fences.clear(fence)
    elif unfenced:
        await cache.invalidate(unfenced)
