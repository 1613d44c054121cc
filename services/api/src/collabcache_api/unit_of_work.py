"""The unit of work: one transaction, and the steps that run around its commit.

`UnitOfWork.commit` is the write path's order, in one place (ARCHITECTURE.md, "The write
path"; README, "The fenced cache protocol"):

    collect the transaction's events → before commit → commit → after commit
                                       (fence)                  (clear)

A step plugs in through `CommitProtocol`; the API's is `FencedCache`: the events name every
cache entry the write affects (`collabcache_shared.invalidation`), a fence goes up on them so no
reader can fill one with what it read before the commit, the commit, then the fence comes down
and the entries are dropped, before the response is sent. A before-commit step that raises
means no commit (a fence that cannot be placed: 503, nothing changed); the after-commit step
runs whether or not the commit answered, since clearing is always safe, but certifies the
entries only after a commit that returned.

Services and repositories never commit: a request's transaction commits here, a background
load's through `db.unit_of_work`, which is this same class with no step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.cache.errors import FenceUnavailable
from collabcache_shared.cache.fences import Fence
from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.events import DomainEvent
from collabcache_shared.invalidation import certificates_for

from . import transaction_events

if TYPE_CHECKING:
    from .bootstrap import Container


class AfterCommit(Protocol):
    """What a before-commit step leaves to do around the commit itself."""

    def check_may_commit(self) -> None:
        """Raise to roll back instead of committing (called just before the commit)."""

    async def after_commit(self, committed: bool) -> None:
        """Runs once the commit was tried, whether or not it answered (`committed`: it
        returned; otherwise it raised or was cancelled, and may yet become visible)."""


class CommitProtocol(Protocol):
    async def before_commit(self, events: Sequence[DomainEvent]) -> AfterCommit:
        """Runs before the commit with the transaction's events; raising means no commit."""


class UnitOfWork:
    """A session's transaction: committed by `commit`, rolled back on any error."""

    def __init__(self, session: AsyncSession, protocol: CommitProtocol | None = None) -> None:
        self.session = session
        self.protocol = protocol

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if error is not None:
            await self.rollback()

    async def collect_new_events(self) -> list[DomainEvent]:
        """The events this transaction recorded, read back from the outbox (migration 0002)."""
        return await transaction_events.of_current_transaction(self.session)

    async def commit(self) -> None:
        if not self.session.in_transaction():
            return
        if self.protocol is None:
            await self.session.commit()
            return
        after = await self.protocol.before_commit(await self.collect_new_events())
        committed = False
        try:
            after.check_may_commit()
            await self.session.commit()
            committed = True
        finally:
            await after.after_commit(committed)

    async def rollback(self) -> None:
        await self.session.rollback()


# Told which entries a committed write dropped, once its fence is down (refresh-ahead).
AfterClear = Callable[[Collection[CacheKey]], None]


@dataclass(frozen=True, slots=True)
class FencedCache:
    """The fenced cache protocol's steps: fence before the commit, clear after."""

    cache: CacheManager
    fence_required: bool
    after_clear: AfterClear | None = None

    async def before_commit(self, events: Sequence[DomainEvent]) -> AfterCommit:
        certificates = certificates_for(events)
        keys = list(certificates)
        try:
            fence = await self.cache.fences.place(keys, certificates)
        except FenceUnavailable:
            if self.fence_required:
                raise
            return DropAfterCommit(self.cache, keys)  # CACHE_FENCE_REQUIRED=false: its bound
        return NOTHING_AFTER if fence is None else ClearFence(self.cache, fence, self.after_clear)


@dataclass(frozen=True, slots=True)
class ClearFence:
    cache: CacheManager
    fence: Fence
    after_clear: AfterClear | None = None

    def check_may_commit(self) -> None:
        self.fence.check_deadline()  # FenceExpired: the fence may be gone before the commit

    async def after_commit(self, committed: bool) -> None:
        """Clear the fence (retried until it would expire). Only a commit that returned is
        certain to be visible to every later read: only then does the clear certify the
        entries (README, "The fenced cache protocol", point 5) and refresh the hot ones."""
        fence = self.fence if committed else dataclasses.replace(self.fence, certify={})
        cleared = await self.cache.fences.clear(fence)
        if cleared and committed and self.after_clear is not None:
            self.after_clear(fence.keys)


@dataclass(frozen=True, slots=True)
class DropAfterCommit:
    """No fence could be placed (and none was required): drop the entries after the commit."""

    cache: CacheManager
    keys: Collection[CacheKey]

    def check_may_commit(self) -> None:
        return None

    async def after_commit(self, committed: bool) -> None:
        await self.cache.invalidate(self.keys)


class NothingAfterCommit:
    def check_may_commit(self) -> None:
        return None

    async def after_commit(self, committed: bool) -> None:
        return None


NOTHING_AFTER = NothingAfterCommit()


def fenced_cache(container: Container) -> FencedCache | None:
    """The cache protocol a write commits through; None with the cache, or inline
    invalidation (the TTL-only benchmark), switched off."""
    cache, settings = container.cache, container.cache_settings
    if cache is None or not settings.invalidate_inline:
        return None
    ahead = container.refresh_ahead
    return FencedCache(cache, settings.fence_required, ahead.after_write if ahead else None)


@asynccontextmanager
async def request_transaction(
    container: Container, *, writes: bool, traceparent: str | None = None
) -> AsyncIterator[AsyncSession]:
    """The request's session; a write commits through the cache protocol (`fenced_cache`)."""
    protocol = fenced_cache(container) if writes else None
    async with container.sessions() as session, UnitOfWork(session, protocol) as uow:
        if writes:
            await transaction_events.carry_trace_context(session, traceparent)
        yield session
        await uow.commit()
