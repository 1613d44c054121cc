"""How each delivery ends: acknowledged, left pending for a retry, or dead-lettered.

The subscriber (`AckPolicy.MANUAL`) settles each entry of a batch through `Settlement`
(`batches.BatchApplier`), whether the stream worker read it or claimed it:

- handled: XACK, only once its entries are deleted (a batch's entries in one XACK);
- not a valid DomainEvent: dead-lettered at once (retrying cannot fix it), then acknowledged;
- failed: left pending; the worker's claim rounds hand it on again once it has been idle for
  the claim idle time; the delivery that fails for the `max_deliveries`-th time dead-letters
  it instead.

`Settlement` is also a FastStream middleware: a batch whose handling failed past all that
(its acknowledgement, say) is logged, and its entries stay pending for the claim rounds, which
abandon an entry delivered more than `max_deliveries` times: `abandon` dead-letters it without
trying it again.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from faststream import BaseMiddleware
from pydantic import ValidationError

from collabcache_shared.streams.group import Entry, Fields

from .metrics import InvalidatorMetrics

log = logging.getLogger("collabcache_invalidator")

# Dead-letter reasons (a metric label and the entry's `dlq:reason`).
INVALID = "invalid"  # not a DomainEvent: never retried
FAILED = "failed"  # its handling failed on each of `max_deliveries` deliveries
ABANDONED = "abandoned"  # delivered more often than that and never settled (consumers died)


class UndecodableEntry(ValueError):
    """A stream entry that no retry can turn into a DomainEvent (a broken envelope)."""


NOT_AN_EVENT = (ValidationError, json.JSONDecodeError, UnicodeDecodeError, UndecodableEntry)
MAX_ERROR_LENGTH = 4000


class StreamOps(Protocol):
    """The part of `EventStream` a settlement needs."""

    async def ack(self, *ids: bytes) -> None: ...

    async def deliveries(self, entry_id: bytes) -> int: ...

    async def dead_letter(
        self, entry_id: bytes, fields: Fields, *, reason: str, error: str, deliveries: int
    ) -> None: ...


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


class Settlement:
    def __init__(self, stream: StreamOps, max_deliveries: int, metrics: InvalidatorMetrics) -> None:
        self.stream = stream
        self.max_deliveries = max_deliveries
        self.metrics = metrics

    def __call__(self, msg: Any, /, *, context: Any) -> BaseMiddleware:
        """FastStream builds one middleware per message (a batch) through this."""
        return _Settle(msg, context=context)

    async def succeeded(self, *entry_ids: bytes) -> None:
        """One XACK for them all (no id: FastStream's TestRedisBroker writes no entries)."""
        ids = [i for i in entry_ids if i]
        if ids:
            await self.stream.ack(*ids)

    async def failed(self, entry_id: bytes, fields: Fields, exc: Exception) -> None:
        deliveries = await self.stream.deliveries(entry_id) if entry_id else 1
        if isinstance(exc, NOT_AN_EVENT):
            await self._dead_letter(entry_id, fields, INVALID, describe(exc), deliveries)
            return
        self.metrics.failures.inc()
        if deliveries >= self.max_deliveries:
            await self._dead_letter(entry_id, fields, FAILED, describe(exc), deliveries)
            return
        log.warning(
            "event %s failed (delivery %d of %d), left pending for a retry: %s",
            entry_id.decode() or "-",
            deliveries,
            self.max_deliveries,
            describe(exc),
            exc_info=exc,
        )

    async def abandon(self, entry: Entry) -> None:
        """An entry delivered more than `max_deliveries` times whose consumers never settled
        it (each died handling it): dead-lettered without trying once more."""
        error = f"delivered {entry.deliveries} times without being settled"
        await self._dead_letter(entry.id, entry.fields, ABANDONED, error, entry.deliveries)

    async def _dead_letter(
        self, entry_id: bytes, fields: Fields, reason: str, error: str, deliveries: int
    ) -> None:
        await self.stream.dead_letter(
            entry_id, fields, reason=reason, error=error, deliveries=deliveries
        )
        self.metrics.dead_lettered.labels(reason=reason).inc()
        log.error("event %s dead-lettered (%s): %s", entry_id.decode() or "-", reason, error)


class _Settle(BaseMiddleware):
    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: Any = None,
    ) -> bool:
        if exc_val is None or not isinstance(exc_val, Exception):
            return False  # settled by the handler, or shutting down: pending for whoever runs
        raw = self.msg if isinstance(self.msg, dict) else {}
        log.error(
            "a batch of %d entries could not be settled: they stay pending for a retry",
            len(raw.get("message_ids") or ()),
            exc_info=exc_val,
        )
        return True
