"""Cache lookup events for the metrics service: batched off the request path.

`record` appends to a bounded in-memory buffer (no I/O, no await); a background task sends
the buffer every `flush_seconds` as one call of a script that runs `XADD ... MAXLEN ~` per
event (one command to pack, where a pipeline packs one per event: that packing was a hit's
largest cost after its lookup). When the buffer
is full or Redis fails, events are dropped and counted: reporting never blocks or fails a
request.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import orjson
from redis.exceptions import RedisError

from ..background import cancel_until_done
from ..clock import now_ms
from .store import AnyRedis

log = logging.getLogger(__name__)
DATA_FIELD = "__data__"  # the field FastStream's Redis subscribers read a message from
APPEND_BATCH = 1000
# KEYS[1] the stream; ARGV: maxlen, the field, then one event per argument. One hash slot.
APPEND = """
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[i])
end
return #ARGV - 2
"""


class CacheEventSink:
    def __init__(
        self,
        redis: AnyRedis,
        stream: str,
        *,
        maxlen: int = 100_000,
        buffer: int = 10_000,
        flush_seconds: float = 0.2,
        timeout_seconds: float = 0.5,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        self.flush_seconds = flush_seconds
        self.timeout_seconds = timeout_seconds
        self._buffer: deque[bytes] = deque()
        self._capacity = buffer
        self.sent = 0
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._append = redis.register_script(APPEND)

    def record(
        self, endpoint: str, family: str, outcome: str, latency_ms: float, size: int
    ) -> None:
        if len(self._buffer) >= self._capacity:
            self.dropped += 1
            return
        event: dict[str, Any] = {
            "type": "cache.lookup.v1",
            "at_ms": now_ms(),
            "endpoint": endpoint,
            "family": family,
            "outcome": outcome,
            "latency_ms": round(latency_ms, 3),
            "size": size,
        }
        self._buffer.append(orjson.dumps(event))

    async def flush(self) -> int:
        batch = [self._buffer.popleft() for _ in range(len(self._buffer))]
        if not batch:
            return 0
        try:
            async with asyncio.timeout(self.timeout_seconds):
                for start in range(0, len(batch), APPEND_BATCH):  # Redis busy a moment at most
                    events = batch[start : start + APPEND_BATCH]
                    await self._append(keys=[self.stream], args=[self.maxlen, DATA_FIELD, *events])
        except (RedisError, OSError, TimeoutError) as exc:
            self.dropped += len(batch)
            log.debug("cache events dropped: %s", type(exc).__name__)
            return 0
        self.sent += len(batch)
        return len(batch)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cache-event-sink")

    async def stop(self) -> None:
        """The task ends (cancelled again should a library absorb the cancel), then what is
        left is sent."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_until_done([task])
        await self.flush()
