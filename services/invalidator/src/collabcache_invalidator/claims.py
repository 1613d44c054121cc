"""Recovery: entries a consumer read and never acknowledged (it died, or its handling failed)
are claimed by a live consumer once idle for `claim_idle_ms`, and handled again.

FastStream 0.7 cannot do this beside a subscriber that reads new entries on Redis 7 (its
`min_idle_time` subscriber only claims; `claim_min_idle_time` needs Redis 8.4), so this loop
runs beside it: XAUTOCLAIM a batch, then hand each entry to the same subscriber as if it had
just been read, so it goes through the same handler and `Settlement`. An entry delivered more
than `max_deliveries` times is dead-lettered without another try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from faststream.redis.message import DefaultStreamMessage

from .metrics import InvalidatorMetrics
from .settlement import Settlement
from .streams import ClaimBatch, Claimed

log = logging.getLogger("collabcache_invalidator")
SCAN_START = b"0-0"

Redeliver = Callable[[Claimed], Awaitable[None]]


class Claims(Protocol):
    async def claim(self, cursor: bytes, min_idle_ms: int, count: int) -> ClaimBatch: ...


class Consumes(Protocol):
    async def consume(self, msg: Any) -> Any: ...


def redeliver_to(subscriber: Consumes, stream: str) -> Redeliver:
    """Feed a claimed entry to the subscriber exactly as its own read would."""

    async def redeliver(entry: Claimed) -> None:
        message = DefaultStreamMessage(
            type="stream", channel=stream, message_ids=[entry.id], data=entry.fields
        )
        await subscriber.consume(message)

    return redeliver


class ClaimLoop:
    def __init__(
        self,
        stream: Claims,
        settlement: Settlement,
        redeliver: Redeliver,
        metrics: InvalidatorMetrics,
        *,
        min_idle_ms: int,
        interval_seconds: float,
        batch_size: int,
    ) -> None:
        self.stream = stream
        self.settlement = settlement
        self.redeliver = redeliver
        self.metrics = metrics
        self.min_idle_ms = min_idle_ms
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self.cursor = SCAN_START
        self._task: asyncio.Task[None] | None = None

    async def claim_once(self) -> int:
        """One XAUTOCLAIM batch from where the last one stopped; returns how many entries."""
        batch = await self.stream.claim(self.cursor, self.min_idle_ms, self.batch_size)
        self.cursor = batch.cursor
        if batch.deleted:
            log.warning(
                "%d pending entries were trimmed from the stream unprocessed", batch.deleted
            )
        for entry in batch.entries:
            self.metrics.claimed.inc()
            if entry.deliveries > self.settlement.max_deliveries:
                await self.settlement.abandon(entry)
            else:
                await self.redeliver(entry)
        return len(batch.entries)

    async def run(self) -> None:
        while True:
            try:
                await self.claim_once()
            except Exception:
                log.exception("claiming pending entries failed; trying again")
                self.cursor = SCAN_START
            if self.cursor == SCAN_START:  # the whole pending list was scanned: rest
                await asyncio.sleep(self.interval_seconds)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="invalidator-claim-loop")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
