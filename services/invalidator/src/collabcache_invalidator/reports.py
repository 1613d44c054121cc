"""`InvalidationApplied` reports for the metrics service: one per applied domain event.

Recording is in memory (no I/O, cannot fail the invalidation); the reports go out with the
next acknowledgement, in the same pipelined round trip as its XACK (`EventStream.ack`), as
`XADD <prefix>:stream:invalidations MAXLEN ~`. A report whose send fails is dropped and
counted: the figures are for monitoring, and an event whose acknowledgement failed is
redelivered, applied and reported again anyway.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from collabcache_shared.cache.reporting import DATA_FIELD
from collabcache_shared.events import DomainEvent, InvalidationApplied

log = logging.getLogger("collabcache_invalidator")
DEFAULT_CAPACITY = 10_000


class AppliedReports:
    def __init__(self, stream: str, maxlen: int, capacity: int = DEFAULT_CAPACITY) -> None:
        self.stream = stream
        self.maxlen = maxlen
        self._pending: deque[bytes] = deque(maxlen=capacity)
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, event: DomainEvent, keys: int, at: float) -> None:
        """A report of `event`, applied at `at` (epoch seconds) with `keys` entries; the
        oldest waiting report is dropped when too many wait (no acknowledgement for long)."""
        lag_ms = max(0.0, (at - event.occurred_at.timestamp()) * 1000)
        report = InvalidationApplied(
            at_ms=int(at * 1000), event_type=event.type, keys=keys, lag_ms=round(lag_ms, 3)
        )
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(report.model_dump_json().encode())

    def drain_into(self, pipe: Any) -> int:
        """Queue every waiting report on `pipe` (an XADD each); returns how many."""
        count = 0
        while self._pending:
            data = self._pending.popleft()
            pipe.xadd(self.stream, {DATA_FIELD: data}, maxlen=self.maxlen, approximate=True)
            count += 1
        return count

    def sent(self, replies: list[Any]) -> None:
        """Count the reports whose XADD failed (replies of `drain_into`'s commands)."""
        failed = sum(isinstance(reply, Exception) for reply in replies)
        if failed:
            self.dropped += failed
            log.debug("%d invalidation reports dropped", failed)
