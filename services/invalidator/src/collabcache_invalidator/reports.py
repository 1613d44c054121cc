"""`InvalidationApplied` reports for the metrics service: one per applied domain event.

Recording is in memory (no I/O, cannot fail the invalidation); the reports go out with the
next acknowledgement, in the same pipelined round trip as its XACK (`EventStream.ack`): one
stream entry per report, `XADD <prefix>:stream:invalidations MAXLEN ~ * __data__ <report>`,
made by one script call (`XADD_EACH`, on that one key) for up to `CHUNK` reports, so a batch
costs one command, not one per event. A report whose send fails is dropped and counted: the
figures are for monitoring, and an event whose acknowledgement failed is redelivered, applied
and reported again anyway.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from collabcache_shared.cache.reporting import DATA_FIELD
from collabcache_shared.events import DomainEvent, invalidation_applied_json

log = logging.getLogger("collabcache_invalidator")
DEFAULT_CAPACITY = 10_000
CHUNK = 1_000  # reports per script call (each call blocks Redis while it runs)
# KEYS[1] the reports stream; ARGV: maxlen, field, then the reports (an entry each, in order).
XADD_EACH = """
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[i])
end
return #ARGV - 2
"""


class AppliedReports:
    def __init__(self, stream: str, maxlen: int, capacity: int = DEFAULT_CAPACITY) -> None:
        self.stream = stream
        self.maxlen = maxlen
        self._pending: deque[bytes] = deque(maxlen=capacity)
        self._sending: list[int] = []  # reports per queued call, until `sent`
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, event: DomainEvent, keys: int, at: float) -> None:
        """A report of `event`, applied at `at` (epoch seconds) with `keys` entries; the
        oldest waiting report is dropped when too many wait (no acknowledgement for long)."""
        lag_ms = max(0.0, (at - event.occurred_at.timestamp()) * 1000)
        report = invalidation_applied_json(int(at * 1000), event.type, keys, round(lag_ms, 3))
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(report)

    def drain_into(self, pipe: Any) -> int:
        """Queue every waiting report on `pipe` (one `XADD_EACH` call per `CHUNK`); returns how
        many reports."""
        count, self._sending = 0, []
        while self._pending:
            chunk = [self._pending.popleft() for _ in range(min(CHUNK, len(self._pending)))]
            pipe.execute_command("EVAL", XADD_EACH, 1, self.stream, self.maxlen, DATA_FIELD, *chunk)
            self._sending.append(len(chunk))
            count += len(chunk)
        return count

    def sent(self, replies: list[Any]) -> None:
        """Count the reports whose call failed (`replies`: of `drain_into`'s commands)."""
        sizes, self._sending = self._sending, []
        failed = sum(
            n for n, reply in zip(sizes, replies, strict=False) if isinstance(reply, Exception)
        )
        if failed:
            self.dropped += failed
            log.debug("%d invalidation reports dropped", failed)
