"""Recovery: batches a consumer read and never applied (it died, or its transaction failed)
are claimed by a live consumer once idle for `claim_idle_ms`, and folded then.

The claimed entries go through the same `BatchConsumer.consume` (one transaction with their
acknowledgement), so a batch is counted exactly once whoever ends up applying it.

The loop also gets a subscriber reading again once Redis answers after a failure (as the
invalidator's does): FastStream's stream subscriber stops for good when its group is gone (a
Redis restarted without its data) and sleeps 5 s after any failed read, so the group is
recreated from the stream's start and the subscriber restarted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from collabcache_shared.streams.rounds import Rounds

from .consumer import BatchConsumer
from .streams import GroupStream

log = logging.getLogger("collabcache_metrics")
SCAN_START = b"0-0"
MAX_OWN_ROUNDS = 100  # batches of its own pending entries a stopping consumer applies at most

Resume = Callable[[], Awaitable[None]]


class Restartable(Protocol):
    running: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def resume_consuming(stream: GroupStream, subscriber: Restartable) -> Resume:
    """After Redis was lost: the group exists again (from the stream's start) and the
    subscriber reads at once."""

    async def resume() -> None:
        await stream.ensure_group()
        if subscriber.running:
            await subscriber.stop()
        await subscriber.start()

    return resume


def redis_lost(exc: Exception) -> bool:
    """Redis unreachable, or it answers without the group (restarted empty)."""
    if isinstance(exc, ResponseError):
        return "NOGROUP" in str(exc)
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)


@dataclass
class Watched:
    """One consumed stream as the loop looks after it."""

    stream: GroupStream
    consumer: BatchConsumer
    resume: Resume | None = None
    cursor: bytes = SCAN_START
    lost: bool = False  # a claim failed for want of Redis: resume once it answers


class ClaimLoop:
    def __init__(
        self,
        watched: Sequence[Watched],
        *,
        min_idle_ms: int,
        interval_seconds: float,
        batch_size: int,
    ) -> None:
        self.watched = list(watched)
        self.min_idle_ms = min_idle_ms
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self._rounds = Rounds("metrics-claim-loop")
        self.started = False  # ever: the broker started consuming (the groups exist)

    async def claim_once(self) -> int:
        """One XAUTOCLAIM batch per stream from where the last one stopped; returns how many
        entries were claimed and applied."""
        claimed = 0
        for w in self.watched:
            try:
                claimed += await self._claim(w)
            except Exception as exc:
                log.exception("claiming pending %s entries failed", w.stream.names.kind)
                w.cursor = SCAN_START
                w.lost = w.lost or redis_lost(exc)
            if w.lost and w.resume is not None:
                w.lost = not await _resumed(w)
        return claimed

    async def _claim(self, w: Watched) -> int:
        batch = await w.stream.claim(w.cursor, self.min_idle_ms, self.batch_size)
        w.cursor = batch.cursor
        if not batch.ids:
            return 0
        w.consumer.metrics.claimed.labels(stream=w.stream.names.kind).inc(len(batch.ids))
        await w.consumer.consume(batch.ids, batch.entries)
        return len(batch.ids)

    async def apply_own_pending(self) -> int:
        """At shutdown, once this process reads no more: apply what it read and never applied
        (a read answered as FastStream cancelled it), so nothing waits for a claim and the
        consumer can leave its group. Returns how many entries were applied."""
        applied = 0
        for w in self.watched:
            for _ in range(MAX_OWN_ROUNDS):
                batch = await w.stream.own_pending(self.batch_size)
                if not batch.ids:
                    break
                await w.consumer.consume(batch.ids, batch.entries)
                applied += len(batch.ids)
        return applied

    async def run(self) -> None:
        while not self._rounds.stopping:
            await self.claim_once()
            if all(w.cursor == SCAN_START for w in self.watched):  # every pending list scanned
                await self._rounds.rest(self.interval_seconds)

    def start(self) -> None:
        if self._rounds.start(self.run):
            self.started = True

    async def stop(self) -> None:
        """The round in flight is applied and counted (up to the grace period), then the
        loop ends."""
        await self._rounds.stop()


async def _resumed(w: Watched) -> bool:
    assert w.resume is not None
    try:
        await w.resume()
    except Exception as exc:  # Redis still away: next round
        log.debug("resuming the %s subscriber failed: %s", w.stream.names.kind, exc)
        return False
    log.warning("Redis answers again: the %s subscriber reads from its group", w.stream.names.kind)
    return True
