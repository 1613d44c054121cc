"""Recovery: batches a consumer read and never applied (it died, or its transaction failed)
are claimed by a live consumer once idle for `claim_idle_ms`, and folded then.

The claimed entries go through the same `BatchConsumer.consume` (one transaction with their
acknowledgement), so a batch is counted exactly once whoever ends up applying it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from .consumer import BatchConsumer
from .streams import GroupStream

log = logging.getLogger("collabcache_metrics")
SCAN_START = b"0-0"
STOP_RETRY_SECONDS = 0.5


class ClaimLoop:
    def __init__(
        self,
        streams: Sequence[tuple[GroupStream, BatchConsumer]],
        *,
        min_idle_ms: int,
        interval_seconds: float,
        batch_size: int,
    ) -> None:
        self.streams = list(streams)
        self.min_idle_ms = min_idle_ms
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self.cursors = [SCAN_START for _ in self.streams]
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.started = False  # ever: the broker started consuming (the groups exist)

    async def claim_once(self) -> int:
        """One XAUTOCLAIM batch per stream from where the last one stopped; returns how many
        entries were claimed and applied."""
        claimed = 0
        for i, (stream, consumer) in enumerate(self.streams):
            try:
                batch = await stream.claim(self.cursors[i], self.min_idle_ms, self.batch_size)
                self.cursors[i] = batch.cursor
                if batch.ids:
                    consumer.metrics.claimed.labels(stream=stream.names.kind).inc(len(batch.ids))
                    await consumer.consume(batch.ids, batch.entries)
                    claimed += len(batch.ids)
            except Exception:
                log.exception("claiming pending %s entries failed", stream.names.kind)
                self.cursors[i] = SCAN_START
        return claimed

    async def run(self) -> None:
        while not self._stopping:
            await self.claim_once()
            if all(c == SCAN_START for c in self.cursors):  # every pending list scanned
                await asyncio.sleep(self.interval_seconds)

    def start(self) -> None:
        if self._task is None:
            self.started = True
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="metrics-claim-loop")

    async def stop(self) -> None:
        """Stop the loop, however its cancellation lands: a cancellation that meets a Redis
        read's own timeout can come out as a TimeoutError (Python 3.11's `asyncio.timeout`),
        which `claim_once` handles like any failure, so the flag ends the loop and the task
        is cancelled again until it is done."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_RETRY_SECONDS)
        with contextlib.suppress(asyncio.CancelledError):
            await task
