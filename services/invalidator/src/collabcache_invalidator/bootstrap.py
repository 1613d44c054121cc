"""The composition root: settings, the Redis client, the entry store, the group, the broker
and its one (batch) subscriber, the settlement middleware, the stream worker and tracing, wired
once. Building connects to nothing; the application's lifespan starts and stops what needs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from faststream.redis import RedisBroker
from faststream.redis.subscriber.usecases.stream_subscriber import StreamBatchSubscriber
from opentelemetry.trace import TracerProvider

from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis, EntryStore
from collabcache_shared.events import INVALIDATION_EVENTS_STREAM, DomainEvent
from collabcache_shared.settings import InvalidatorSettings, RedisSettings
from collabcache_shared.streams.broker import batch_subscriber, dispatch_to, dispatching_broker
from collabcache_shared.streams.names import GroupNames, unique_consumer_name
from collabcache_shared.streams.worker import Consumed, Consuming, StreamWorker
from collabcache_shared.telemetry import tracing as telemetry

from .batches import BatchApplier
from .decoding import EventBatch, batch_parser, valid_events
from .handlers import Invalidates
from .metrics import InvalidatorMetrics
from .reports import AppliedReports
from .settlement import Settlement
from .streams import EventStream, names_under
from .tracing import EventTracing

log = logging.getLogger("collabcache_invalidator")
SUBSCRIBER_DESCRIPTION = (
    "Every domain event (a committed change, published by the API's outbox relay) invalidates "
    "the cache entries it affects: `collabcache_shared.invalidation.keys_for(event.payload)`. "
    "Consumer group `invalidator`, read in batches (`INVALIDATOR_BATCH_SIZE`): a batch's "
    "entries are invalidated in one pipeline and acknowledged in one XACK once deleted; a "
    "failing one is retried after the claim idle time and, after max deliveries (or at once "
    "when it is not a DomainEvent), copied to `<prefix>:stream:domain-events:dead-letter` "
    "with its original fields and `dlq:error`, `dlq:reason`, `dlq:id`, `dlq:deliveries`."
)


@dataclass(frozen=True)
class Invalidator:
    """Everything the service is made of, for the application and for tests."""

    settings: InvalidatorSettings
    names: GroupNames
    redis: AnyRedis
    store: Invalidates
    stream: EventStream
    metrics: InvalidatorMetrics
    settlement: Settlement
    broker: RedisBroker
    subscriber: StreamBatchSubscriber
    worker: StreamWorker
    reports: AppliedReports | None = None  # for the metrics service (None: switched off)

    async def close(self) -> None:
        """After the worker stopped (and left its group): disconnect."""
        await self.redis.aclose()


def subscribe(
    broker: RedisBroker, names: GroupNames, apply: BatchApplier, batch_size: int
) -> StreamBatchSubscriber:
    """The domain-events subscriber, a batch (up to `batch_size` entries) per read, each entry
    decoded on its own; `apply` settles every entry (acknowledgement is manual)."""
    subscriber = batch_subscriber(
        broker,
        names,
        batch_size,
        parser=batch_parser(broker.message_format),
        decoder=valid_events,
        title="invalidate-cache",
        description=SUBSCRIBER_DESCRIPTION,
    )

    @subscriber
    async def invalidate_cache(events: list[DomainEvent]) -> None:
        # `events` (the batch's DomainEvents) is what the subscriber documents; the batch
        # message also has the entries that are not DomainEvents, and every entry's id. (Read
        # here: a `Context` parameter would be resolved in a worker thread, every batch; the
        # broker's context is the application's once one runs it.)
        batch = broker.context.get_local("message")
        assert isinstance(batch, EventBatch)
        await apply(batch.deliveries)

    return subscriber


def _redis_for_invalidator(redis: RedisSettings, settings: InvalidatorSettings) -> AnyRedis:
    # The API's timeouts are tens of milliseconds (a request must never wait on Redis); this
    # service is on no request path and pipelines batches, so it may wait longer.
    timeout = max(redis.socket_timeout, settings.redis_socket_timeout)
    return make_redis(redis.model_copy(update={"socket_timeout": timeout}))


def _middlewares(settlement: Settlement, provider: TracerProvider | None) -> list[Any]:
    """Telemetry outermost: its span covers the whole batch, settlement included."""
    return [*telemetry.broker_middlewares(provider), settlement]


def build(
    redis_settings: RedisSettings | None = None,
    settings: InvalidatorSettings | None = None,
    *,
    consumer: str | None = None,
    store: Invalidates | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Invalidator:
    """Wire the service. `consumer` names this process in the group (unique by default);
    `store` replaces the entry store (tests). With a `tracer_provider`, FastStream traces each
    batch and each applied event has a span (see `tracing`); without one, events are traced
    only if the process set a global provider, and FastStream not at all."""
    redis_settings = redis_settings or RedisSettings()
    settings = settings or InvalidatorSettings()
    keyspace = KeySpace(prefix=redis_settings.key_prefix)
    names = names_under(keyspace, consumer or unique_consumer_name())
    redis = _redis_for_invalidator(redis_settings, settings)
    telemetry.instrument_redis(redis, tracer_provider)  # its spans join the batch's trace
    store = store or EntryStore(redis, keyspace)
    metrics = InvalidatorMetrics()
    reports = None
    if settings.reports_enabled:
        reports = AppliedReports(
            keyspace.stream(INVALIDATION_EVENTS_STREAM), settings.reports_maxlen
        )
    stream = EventStream(redis, names, settings.dead_letter_maxlen, reports)
    settlement = Settlement(stream, settings.max_deliveries, metrics)
    broker = dispatching_broker(
        redis_settings.dsn,
        cluster=redis_settings.cluster,
        middlewares=_middlewares(settlement, tracer_provider),
        graceful_timeout=5.0,
        log_level=logging.DEBUG,  # one line per message at INFO would be most of the work
        description="The deployment's Redis: streams are under the key prefix (`cc` here).",
    )
    apply = BatchApplier(
        store,
        metrics,
        settlement,
        EventTracing(tracer_provider),
        report=reports.record if reports else None,
    )
    subscriber = subscribe(broker, names, apply, settings.batch_size)
    worker = StreamWorker(
        "invalidator",
        [
            Consumed(
                stream,
                dispatch_to(subscriber, names.stream),
                abandon=settlement.abandon,
                claimed=metrics.claimed.inc,
            )
        ],
        Consuming(
            batch_size=settings.batch_size,
            claim_idle_ms=settings.claim_idle_ms,
            claim_interval_seconds=settings.claim_interval_seconds,
            max_deliveries=settings.max_deliveries,
        ),
    )
    return Invalidator(
        settings,
        names,
        redis,
        store,
        stream,
        metrics,
        settlement,
        broker,
        subscriber,
        worker,
        reports,
    )
