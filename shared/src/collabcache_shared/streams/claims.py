"""Recovery: entries a consumer read and never settled (it died, or its handling failed) are
claimed by a live consumer once idle for `min_idle_ms` (XAUTOCLAIM, one batch per stream a
round, the scan going on from where the last round stopped), and handed to the same handler as
a read batch. With `max_deliveries` set, an entry delivered more often than that is abandoned
(dead-lettered by the service) without another try: its consumers kept dying on it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from .group import SCAN_START, Entry, GroupStream
from .reader import Handle, group_lost
from .rounds import Repeating

log = logging.getLogger(__name__)

Abandon = Callable[[Entry], Awaitable[None]]
Counted = Callable[[int], object]  # told how many entries a round claimed from a stream


@dataclass
class Claimable:
    """One consumed stream as the claim rounds look after it."""

    group: GroupStream
    handle: Handle
    abandon: Abandon | None = None  # required with `max_deliveries`
    claimed: Counted | None = None
    cursor: bytes = SCAN_START


class ClaimRounds(Repeating):
    def __init__(
        self,
        streams: Sequence[Claimable],
        *,
        min_idle_ms: int,
        interval_seconds: float,
        batch_size: int,
        max_deliveries: int | None = None,
        name: str = "claim rounds",
    ) -> None:
        if max_deliveries is not None and any(s.abandon is None for s in streams):
            raise ValueError("with max_deliveries, every stream needs an `abandon`")
        super().__init__(name)
        self.streams = list(streams)
        self.min_idle_ms = min_idle_ms
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self.max_deliveries = max_deliveries

    async def run(self) -> None:
        while not self.rounds.stopping:
            await self.claim_once()
            if all(s.cursor == SCAN_START for s in self.streams):  # every pending list scanned
                await self.rounds.rest(self.interval_seconds)

    async def claim_once(self) -> int:
        """One XAUTOCLAIM batch per stream; returns how many entries were claimed."""
        claimed = 0
        for stream in self.streams:
            try:
                claimed += await self._claim(stream)
            except Exception as exc:
                stream.cursor = SCAN_START
                if group_lost(exc):  # its reader creates it again
                    log.debug("no group to claim from on %s yet", stream.group.names.stream)
                else:
                    log.exception("claiming pending %s entries failed", stream.group.names.stream)
        return claimed

    async def _claim(self, stream: Claimable) -> int:
        counting = self.max_deliveries is not None
        batch = await stream.group.claim(
            stream.cursor, self.min_idle_ms, self.batch_size, with_deliveries=counting
        )
        stream.cursor = batch.cursor
        if batch.trimmed:
            log.warning(
                "%d pending %s entries were trimmed from the stream unsettled",
                batch.trimmed,
                stream.group.names.stream,
            )
        if not batch.entries:
            return 0
        if stream.claimed is not None:
            stream.claimed(len(batch.entries))
        limit = self.max_deliveries
        for entry in batch.entries:
            if limit is not None and entry.deliveries > limit:
                assert stream.abandon is not None  # checked when built
                await stream.abandon(entry)
        retried = [e for e in batch.entries if limit is None or e.deliveries <= limit]
        if retried:
            await stream.handle(retried)
        return len(batch.entries)
