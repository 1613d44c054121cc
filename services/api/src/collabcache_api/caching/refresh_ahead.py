"""Refresh-ahead of hot entries (README, "Refresh-ahead").

A write drops the entries it changed, so the next reads of each would miss: for a hot entry,
many misses per write. Every cached read of this process (hit or miss, first page only) is
counted in a `HotKeys` table; once a write's fence is cleared, the hot ones among the entries it
dropped are loaded again at once through the fenced fill (`refill`), whose value the write's
clear certified, so the invalidator's later drop of the same events spares it.

Bounded: a table of `CACHE_REFRESH_AHEAD_KEYS` entries; at most `CACHE_REFRESH_AHEAD_PER_SECOND`
refreshes a second (a token bucket: those beyond it are skipped, never queued), two at a time;
one in flight per entry. Entries served stale (analytics) refresh themselves already; a user's
standings are not pages: neither is refreshed here.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from collabcache_shared.cache.hot_keys import HotKeys
from collabcache_shared.cache.keys import POLICIES, CacheKey, Family
from collabcache_shared.cache.manager import Outcome
from collabcache_shared.settings import CacheSettings

from .reads import CachedRead
from .refill import default_page, refill

if TYPE_CHECKING:
    from ..bootstrap import Container

log = logging.getLogger(__name__)
Reload = tuple[CachedRead, Mapping[str, uuid.UUID], uuid.UUID]
HALVING_SECONDS = 30.0
CONCURRENCY = 2
ELIGIBLE = frozenset(
    family
    for family, policy in POLICIES.items()
    if not policy.serve_stale and family is not Family.USER_PERMISSIONS
)


_COUNTED: dict[Outcome | None, str] = {Outcome.MISS: "refreshed", Outcome.HIT: "fresh"}


class TokenBucket:
    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.clock = clock
        self.tokens = per_second
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.per_second, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class RefreshAhead:
    def __init__(self, container: Container, settings: CacheSettings) -> None:
        self.container = container
        self.hot: HotKeys[CacheKey, Reload] = HotKeys(
            settings.refresh_ahead_keys, settings.refresh_ahead_reads, HALVING_SECONDS
        )
        self.bucket = TokenBucket(settings.refresh_ahead_per_second)
        self.first_page = default_page(container).variant
        self._running = asyncio.Semaphore(CONCURRENCY)
        self._in_flight: set[CacheKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # refreshed: loaded and offered to the cache; fresh: a reader had filled it already;
        # refused: the loader refused (gone, no such user); skipped: over the rate.
        self.counters = dict.fromkeys(["refreshed", "fresh", "refused", "skipped", "failed"], 0)

    def note(
        self, read: CachedRead, ids: Mapping[str, uuid.UUID], user_id: uuid.UUID, variant: str
    ) -> None:
        """One read (served here or through FastAPI) of the entry `read` names."""
        if read.family not in ELIGIBLE or read.is_standing:
            return
        if variant != "-" and variant != self.first_page:
            return
        self.hot.note(read.key(ids, user_id), (read, ids, user_id))

    def after_write(self, dropped: Collection[CacheKey]) -> None:
        """A write's fence is cleared: load the hot ones among `dropped` again, in the
        background (the response does not wait)."""
        for key, reload in self.hot.hot(dropped):
            if key in self._in_flight:
                continue
            if not self.bucket.take():
                self.counters["skipped"] += 1
                continue
            self._in_flight.add(key)
            task = asyncio.create_task(self._refresh(key, reload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _refresh(self, key: CacheKey, reload: Reload) -> None:
        read, ids, user_id = reload
        try:
            async with self._running:
                result = await refill(self.container, read, ids, user_id)
            outcome = result.outcome if result is not None else None
            self.counters[_COUNTED.get(outcome, "refused")] += 1
        except Exception:
            self.counters["failed"] += 1
            log.warning("refresh-ahead of %s failed", key.scope, exc_info=True)
        finally:
            self._in_flight.discard(key)

    async def idle(self) -> None:
        """Until every refresh under way has ended (tests, and a drain before stopping)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
