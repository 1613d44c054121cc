"""One batch of deliveries, applied and settled: what the subscriber does with each read.

- entries that are not DomainEvents are dead-lettered (`Settlement.failed`), each on its own;
- the events' entries are invalidated together: the union of their keys in one pipelined
  round trip (`apply_batch`), then every event is acknowledged in one XACK (with the waiting
  reports). Nothing is acknowledged before its entries are gone (at-least-once);
- should that round trip fail, each event is applied on its own, so one that keeps failing (a
  poison message) fails alone: its neighbours are applied and acknowledged, it is left
  pending for a retry, or dead-lettered after `max_deliveries` (`Settlement.failed`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from opentelemetry.trace import Span
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from collabcache_shared.events import DomainEvent

from . import tracing
from .decoding import Delivery
from .handlers import Invalidates, Report, apply_batch, record_applied
from .metrics import InvalidatorMetrics
from .settlement import Settlement, UndecodableEntry
from .tracing import EventTracing, Spans

log = logging.getLogger("collabcache_invalidator")


class BatchApplier:
    def __init__(
        self,
        store: Invalidates,
        metrics: InvalidatorMetrics,
        settlement: Settlement,
        tracer: EventTracing,
        report: Report | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.settlement = settlement
        self.tracer = tracer
        self.report = report
        self.clock = clock

    async def __call__(self, deliveries: Sequence[Delivery]) -> None:
        events = [d for d in deliveries if d.event is not None]
        if events:
            applied = await self._apply(events)
            await self.settlement.succeeded(*(d.id for d in applied))
        for delivery in deliveries:
            if delivery.event is None:
                error = delivery.error or UndecodableEntry("no event")
                await self.settlement.failed(delivery.id, delivery.fields, error)

    async def _apply(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """The deliveries whose entries are now invalidated."""
        spans = self.tracer.start(deliveries)
        if len(deliveries) == 1:
            return await self._one_by_one(deliveries, spans)
        started = self.clock()
        try:
            counts = await apply_batch([_event(d) for d in deliveries], self.store, _ms(started))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Redis is away or slow: one by one would only fail (or crawl) 500 times over.
            # The whole batch stays pending, for the worker's claim rounds.
            for index in range(len(deliveries)):
                tracing.failed(_span(spans, index), exc)
            raise
        except Exception as exc:
            log.info("invalidating a batch of %d failed (%s): one by one", len(deliveries), exc)
            return await self._one_by_one(deliveries, spans)
        finished = self.clock()
        events = [_event(d) for d in deliveries]
        record_applied(list(zip(events, counts, strict=True)), finished, self.metrics, self.report)
        for index, count in enumerate(counts):
            tracing.succeeded(_span(spans, index), count)
        return list(deliveries)

    async def _one_by_one(self, deliveries: Sequence[Delivery], spans: Spans) -> list[Delivery]:
        applied = []
        for index, delivery in enumerate(deliveries):
            span = _span(spans, index)
            try:
                (count,) = await apply_batch([_event(delivery)], self.store, _ms(self.clock()))
            except Exception as exc:
                tracing.failed(span, exc)
                await self.settlement.failed(delivery.id, delivery.fields, exc)
                continue
            record_applied([(_event(delivery), count)], self.clock(), self.metrics, self.report)
            tracing.succeeded(span, count)
            applied.append(delivery)
        return applied


def _event(delivery: Delivery) -> DomainEvent:
    assert delivery.event is not None  # only deliveries of events are applied
    return delivery.event


def _span(spans: Spans, index: int) -> Span | None:
    return None if spans is None else spans[index]


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
