"""One snapshot of the aggregates shared by /stats, /history, /report and /metrics for a short
while: however many dashboards poll, Redis is read at most once per `ttl_seconds`. It keeps the
bucket hashes it read, so /history costs no Redis command of its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from collabcache_shared.metrics.reader import AggregateReader, Snapshot


class Snapshots:
    def __init__(
        self,
        reader: AggregateReader,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.latest: Snapshot | None = None  # the last one read (None: none, or it failed)
        self._read_at = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self) -> Snapshot:
        """A snapshot no older than `ttl_seconds` (every window, the totals and the history's
        buckets included); raises what the Redis client raises when it cannot be read."""
        async with self._lock:
            if self.latest is not None and self.clock() - self._read_at < self.ttl_seconds:
                return self.latest
            self.latest = None
            snapshot = await self.reader.snapshot(totals=True, history=True)
            self.latest, self._read_at = snapshot, self.clock()
            return snapshot
