"""One consumer-group worker over one or more streams: a reader per stream (batches of new
entries), claim rounds over them all (entries other consumers left pending), and a clean stop.

Stopping (ARCHITECTURE, "Stream workers"): the claim round and the reads in flight finish and
their batches are handled; then, for each group this worker joined, what it read and never
settled is handled too when the service asks for it (`Consuming.settle_own_pending_at_stop`),
and the consumer leaves the group unless entries are still pending to it (another replica
claims those). Only then may the service disconnect: a read reaching Redis after XGROUP
DELCONSUMER would put the consumer back in the group for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .claims import Abandon, Claimable, ClaimRounds, Counted
from .group import GroupStream
from .reader import READ_BLOCK_MS, RETRY_SECONDS, Handle, StreamReader

log = logging.getLogger(__name__)
MAX_OWN_ROUNDS = 100  # batches of its own pending entries a stopping consumer handles at most


@dataclass(frozen=True)
class Consumed:
    """One stream a worker consumes: its group, the service's batch handler, and (with
    `Consuming.max_deliveries`) what becomes of an entry delivered too often."""

    group: GroupStream
    handle: Handle
    abandon: Abandon | None = None
    claimed: Counted | None = None  # told how many entries each claim took over


@dataclass(frozen=True)
class Consuming:
    """How a worker consumes: from its service's settings."""

    batch_size: int
    claim_idle_ms: int
    claim_interval_seconds: float
    max_deliveries: int | None = None  # None: no entry is ever abandoned
    settle_own_pending_at_stop: bool = False
    block_ms: int = READ_BLOCK_MS
    retry_seconds: float = RETRY_SECONDS


class StreamWorker:
    def __init__(self, name: str, consumed: Sequence[Consumed], consuming: Consuming) -> None:
        self.name = name
        self.consuming = consuming
        self.consumed = list(consumed)
        self.readers = [
            StreamReader(
                c.group,
                c.handle,
                batch_size=consuming.batch_size,
                block_ms=consuming.block_ms,
                retry_seconds=consuming.retry_seconds,
            )
            for c in self.consumed
        ]
        self.claims = ClaimRounds(
            [Claimable(c.group, c.handle, c.abandon, c.claimed) for c in self.consumed],
            min_idle_ms=consuming.claim_idle_ms,
            interval_seconds=consuming.claim_interval_seconds,
            batch_size=consuming.batch_size,
            max_deliveries=consuming.max_deliveries,
            name=f"{name} claims",
        )

    @property
    def running(self) -> bool:
        return self.claims.running or any(reader.running for reader in self.readers)

    async def start(self) -> None:
        for reader in self.readers:
            reader.start()
        self.claims.start()

    async def stop(self) -> None:
        """Stop reading and claiming, then settle up with each group joined (see above)."""
        await self.claims.stop()
        await asyncio.gather(*(reader.stop() for reader in self.readers))
        for consumed, reader in zip(self.consumed, self.readers, strict=True):
            if reader.joined:
                await self._leave(consumed)

    async def _leave(self, consumed: Consumed) -> None:
        stream = consumed.group.names.stream
        try:
            if self.consuming.settle_own_pending_at_stop:
                await self.settle_own_pending(consumed)
            if not await consumed.group.leave():
                log.info(
                    "%s stays in the group of %s: entries are pending to it", self.name, stream
                )
        except Exception:
            log.warning("%s could not leave the group of %s", self.name, stream, exc_info=True)

    async def settle_own_pending(self, consumed: Consumed) -> int:
        """Hand on, a batch at a time, what this consumer read and never settled (a batch
        whose handling failed, or a read an earlier run with this name was cut off from);
        stops once a batch comes back unsettled. Returns how many entries were handed on."""
        handed: set[bytes] = set()
        for _ in range(MAX_OWN_ROUNDS):
            entries = await consumed.group.read_own_pending(self.consuming.batch_size)
            if not entries or any(e.id in handed for e in entries):
                break
            handed.update(e.id for e in entries)
            await consumed.handle(entries)
        return len(handed)
