"""Write fences: a write marks what it will invalidate before it commits (README, "The fenced
cache protocol").

`place` puts a fence on every entry the transaction's events affect, in one round trip, before
the commit: from then on no reader can fill those entries (their values are dropped with it).
`clear` takes the fence down after the commit, dropping the entries again. A clear that cannot
reach Redis is retried until the fence expires on its own (`CACHE_FENCE_SECONDS`, Redis's
clock); the write must commit before that, or `check_deadline` aborts it.

A clear also certifies each entry for the write's events (`scripts.INVALIDATE`): what readers
fill there from then on was loaded after the commit, so the invalidator's later drop for the
same events spares it. A certificate lasts `CERTIFICATE_SECONDS` (or the entry's life, once
filled); an invalidator later than that drops the entry, which is only ever safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..clock import now_ms
from ..settings import CacheSettings
from .errors import REDIS_FAILURES, FenceExpired, FenceUnavailable
from .keys import CacheKey
from .store import Certificates, EntryStore

log = logging.getLogger(__name__)
CLEAR_RETRY_SECONDS = (0.02, 0.05, 0.1, 0.2)
CERTIFICATE_SECONDS = 60
# An entry a write affects through more events than this is not certified (its drop goes
# ahead): certificates are fields of the entry, and one left unused (its event applied while
# the fence was up) takes a field until the entry's next write or expiry.
MAX_CERTIFICATES = 4


@dataclass(frozen=True, slots=True)
class Fence:
    keys: tuple[CacheKey, ...]
    token: str
    placed_at: float  # monotonic, taken before the fence was sent (so never late)
    expires_at: float  # monotonic: the fence may be gone from Redis from then on
    commit_by: float  # monotonic: a commit starting later could outlive the fence
    # Per entry, the ids of the write's events its clear certifies it for.
    certify: Certificates = field(default_factory=dict)

    def check_deadline(self) -> None:
        if time.monotonic() > self.commit_by:
            raise FenceExpired


class Fences:
    def __init__(self, store: EntryStore, settings: CacheSettings) -> None:
        self.store = store
        self.settings = settings
        self.counters = dict.fromkeys(["placed", "cleared", "clear_retried", "clear_lost"], 0)

    async def place(
        self, keys: Iterable[CacheKey], certify: Certificates | None = None
    ) -> Fence | None:
        """A fence on `keys` (None when there is nothing to fence), or FenceUnavailable;
        `certify`: per entry, the ids of the events its clear will certify it for."""
        keys = tuple(keys)
        if not keys:
            return None
        token = uuid.uuid4().hex
        settings = self.settings
        placed_at = time.monotonic()
        fence_ms = int(settings.fence_seconds * 1000)
        try:
            async with asyncio.timeout(settings.fence_timeout_seconds):
                await self.store.fence(keys, token, fence_ms, now_ms())
        except REDIS_FAILURES as exc:
            log.warning("write fence not placed: %s", type(exc).__name__)
            raise FenceUnavailable from exc
        self.counters["placed"] += 1
        expires_at = placed_at + settings.fence_seconds
        commit_by = expires_at - settings.fence_commit_margin_seconds
        bounded = {k: ids for k, ids in (certify or {}).items() if len(ids) <= MAX_CERTIFICATES}
        return Fence(keys, token, placed_at, expires_at, commit_by, bounded)

    async def clear(self, fence: Fence) -> bool:
        """Take the committed write's fence down; retried until the fence would expire."""
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self.settings.fence_timeout_seconds):
                    await self.store.clear(
                        fence.keys, fence.token, now_ms(), fence.certify, CERTIFICATE_SECONDS * 1000
                    )
                self.counters["cleared"] += 1
                return True
            except REDIS_FAILURES as exc:
                pause = CLEAR_RETRY_SECONDS[min(attempt, len(CLEAR_RETRY_SECONDS) - 1)]
                if time.monotonic() + pause >= fence.expires_at:
                    log.warning(
                        "write fence not cleared (expires by itself): %s", type(exc).__name__
                    )
                    self.counters["clear_lost"] += 1
                    return False
                self.counters["clear_retried"] += 1
                attempt += 1
                await asyncio.sleep(pause)
