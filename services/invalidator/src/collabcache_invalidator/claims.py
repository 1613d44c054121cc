"""Recovery: entries a consumer read and never acknowledged (it died, or its handling failed)
are claimed by a live consumer once idle for `claim_idle_ms`, and handled again.

FastStream 0.7 cannot do this beside a subscriber that reads new entries on Redis 7 (its
`min_idle_time` subscriber only claims; `claim_min_idle_time` needs Redis 8.4), so this loop
runs beside it: XAUTOCLAIM a batch, then hand its entries to the same subscriber as one batch,
as if it had just read them, so they go through the same handler and `Settlement`. An entry
delivered more than `max_deliveries` times is dead-lettered without another try.

The loop also gets the subscriber reading again once Redis answers after a failure (see
`resume_consuming`): FastStream's stream subscriber stops for good when the group is gone (a
Redis restarted without its data) and sleeps 5 s after any failed read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from faststream.redis.message import BatchStreamMessage
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from collabcache_shared.streams.rounds import Rounds

from .metrics import InvalidatorMetrics
from .settlement import Settlement
from .streams import ClaimBatch, Claimed

log = logging.getLogger("collabcache_invalidator")
SCAN_START = b"0-0"

Redeliver = Callable[[Sequence[Claimed]], Awaitable[None]]
Resume = Callable[[], Awaitable[None]]


class Claims(Protocol):
    async def claim(self, cursor: bytes, min_idle_ms: int, count: int) -> ClaimBatch: ...


class Consumes(Protocol):
    async def consume(self, msg: Any) -> Any: ...


class Restartable(Protocol):
    running: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class KeepsGroup(Protocol):
    async def ensure_group(self) -> bool: ...


def redeliver_to(subscriber: Consumes, stream: str) -> Redeliver:
    """Feed claimed entries to the (batch) subscriber exactly as its own read would."""

    async def redeliver(entries: Sequence[Claimed]) -> None:
        message = BatchStreamMessage(
            type="bstream",
            channel=stream,
            message_ids=[entry.id for entry in entries],
            data=[entry.fields for entry in entries],
        )
        await subscriber.consume(message)

    return redeliver


def resume_consuming(stream: KeepsGroup, subscriber: Restartable) -> Resume:
    """After Redis was lost: the group exists again and the subscriber reads at once.

    A Redis restarted without its data has lost the group: FastStream's subscriber stops for
    good on NOGROUP (and would recreate the group at `$`, skipping what was published since),
    so the group is recreated from the stream's start. Otherwise the subscriber is sleeping off
    its failed read (5 s): restarted, it reads now."""

    async def resume() -> None:
        await stream.ensure_group()
        if subscriber.running:
            await subscriber.stop()
        await subscriber.start()

    return resume


def _redis_lost(exc: Exception) -> bool:
    """Redis unreachable, or it answers without the group (restarted empty)."""
    if isinstance(exc, ResponseError):
        return "NOGROUP" in str(exc)
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)


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
        resume: Resume | None = None,
    ) -> None:
        self.stream = stream
        self.settlement = settlement
        self.redeliver = redeliver
        self.metrics = metrics
        self.min_idle_ms = min_idle_ms
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self.cursor = SCAN_START
        self.resume = resume
        self.redis_lost = False  # a claim failed for want of Redis: resume once it answers
        self._rounds = Rounds("invalidator-claim-loop")

    async def claim_once(self) -> int:
        """One XAUTOCLAIM batch from where the last one stopped; returns how many entries."""
        batch = await self.stream.claim(self.cursor, self.min_idle_ms, self.batch_size)
        self.cursor = batch.cursor
        if batch.deleted:
            log.warning(
                "%d pending entries were trimmed from the stream unprocessed", batch.deleted
            )
        retried = []
        for entry in batch.entries:
            self.metrics.claimed.inc()
            if entry.deliveries > self.settlement.max_deliveries:
                await self.settlement.abandon(entry)
            else:
                retried.append(entry)
        if retried:
            await self.redeliver(retried)
        return len(batch.entries)

    async def run(self) -> None:
        while not self._rounds.stopping:
            try:
                await self.claim_once()
            except Exception as exc:
                log.exception("claiming pending entries failed; trying again")
                self.cursor = SCAN_START
                self.redis_lost = self.redis_lost or _redis_lost(exc)
            if self.redis_lost and self.resume is not None:
                self.redis_lost = not await self._resumed(self.resume)
            if self.cursor == SCAN_START:  # the whole pending list was scanned: rest
                await self._rounds.rest(self.interval_seconds)

    async def _resumed(self, resume: Resume) -> bool:
        try:
            await resume()
        except Exception as exc:  # Redis still away: next round
            log.debug("resuming the subscriber failed: %s", exc)
            return False
        log.warning("Redis answers again: the subscriber reads from the group")
        return True

    @property
    def running(self) -> bool:
        return self._rounds.running

    def start(self) -> None:
        self._rounds.start(self.run)

    async def stop(self) -> None:
        """The round in flight finishes (up to the grace period), then the loop ends."""
        await self._rounds.stop()
