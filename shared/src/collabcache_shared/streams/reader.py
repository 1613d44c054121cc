"""Reading one group's new entries in batches, for as long as the worker runs.

Each read (XREADGROUP `>`, up to the batch size, blocking up to `READ_BLOCK_MS`) is handed on
as one batch. Redis going away never ends the reader: a failed read is retried every
`RETRY_SECONDS`, and a group that is gone (a Redis restarted without its data, a deleted stream)
is created again from the stream's start before the next read. Stopping lets the read and the
batch in flight finish (up to the grace period): no read is cut off between Redis answering it
and the batch being handed on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .group import Entry, GroupStream
from .rounds import Repeating

log = logging.getLogger(__name__)

# As FastStream's stream subscriber polls (`StreamSub.polling_interval`): a stop waits this long
# at most for the read in flight.
READ_BLOCK_MS = 100
RETRY_SECONDS = 0.5

Handle = Callable[[Sequence[Entry]], Awaitable[None]]


def group_lost(exc: Exception) -> bool:
    """Redis answers without the group: it is gone, or its stream was deleted mid-read."""
    return isinstance(exc, ResponseError) and str(exc).startswith(("NOGROUP", "UNBLOCKED"))


def redis_unreachable(exc: Exception) -> bool:
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)


class StreamReader(Repeating):
    def __init__(
        self,
        group: GroupStream,
        handle: Handle,
        *,
        batch_size: int,
        block_ms: int = READ_BLOCK_MS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        super().__init__(f"read {group.names.stream}")
        self.group = group
        self.handle = handle
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.retry_seconds = retry_seconds
        self.joined = False  # ever: the group existed for this reader (it read, or may have)
        self._group_ready = False  # the group is known to exist now
        self._failing = False  # the last read failed (logged once per outage)

    async def run(self) -> None:
        while not self.rounds.stopping:
            entries = await self.read_once()
            if entries:
                await self._hand_on(entries)

    async def read_once(self) -> list[Entry]:
        """One read (the group created first when it is not known to exist); [] on failure,
        after resting."""
        try:
            if not self._group_ready:
                await self.group.ensure_group()
                self._group_ready = self.joined = True
            entries = await self.group.read_new(self.batch_size, self.block_ms)
        except Exception as exc:
            self._failed(exc)
            await self.rounds.rest(self.retry_seconds)
            return []
        if self._failing:
            self._failing = False
            log.warning("reading %s again", self.group.names.stream)
        return entries

    def _failed(self, exc: Exception) -> None:
        stream = self.group.names.stream
        if group_lost(exc):
            self._group_ready = False
            log.warning("the group of %s is gone: created again from the stream's start", stream)
        elif not self._failing:
            unreachable = redis_unreachable(exc)
            log.warning(
                "reading %s failed (%s); trying again every %ss",
                stream,
                "Redis unreachable" if unreachable else exc,
                self.retry_seconds,
                exc_info=None if unreachable else exc,
            )
        self._failing = True

    async def _hand_on(self, entries: list[Entry]) -> None:
        try:
            await self.handle(entries)
        except Exception:  # left pending: retried once claimed
            log.exception("a batch of %d %s entries failed", len(entries), self.group.names.stream)
