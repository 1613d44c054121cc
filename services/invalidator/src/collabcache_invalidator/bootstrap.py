"""The composition root: settings, the Redis client, the entry store, the broker and its one
subscriber, the settlement middleware and the claim loop, wired once. Building connects to
nothing; the application's lifespan starts and stops what needs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.subscriber.usecases.stream_subscriber import StreamSubscriber

from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis, EntryStore
from collabcache_shared.events import INVALIDATION_EVENTS_STREAM, DomainEvent
from collabcache_shared.settings import InvalidatorSettings, RedisSettings
from collabcache_shared.streams.broker import waiting_broker

from .claims import ClaimLoop, redeliver_to, resume_consuming
from .handlers import EventHandler, Invalidates, measured
from .metrics import InvalidatorMetrics
from .reports import AppliedReports
from .settlement import Settlement
from .streams import EventStream, StreamNames, unique_consumer_name

SUBSCRIBER_DESCRIPTION = (
    "Every domain event (a committed change, published by the API's outbox relay) invalidates "
    "the cache entries it affects: `collabcache_shared.invalidation.keys_for(event.payload)`. "
    "Consumer group `invalidator`; an entry is acknowledged once its entries are deleted; a "
    "failing one is retried after the claim idle time and, after max deliveries (or at once "
    "when it is not a DomainEvent), copied to `<prefix>:stream:domain-events:dead-letter` "
    "with its original fields and `dlq:error`, `dlq:reason`, `dlq:id`, `dlq:deliveries`."
)


@dataclass(frozen=True)
class Invalidator:
    """Everything the service is made of, for the application and for tests."""

    settings: InvalidatorSettings
    names: StreamNames
    redis: AnyRedis
    store: Invalidates
    stream: EventStream
    metrics: InvalidatorMetrics
    settlement: Settlement
    broker: RedisBroker
    subscriber: StreamSubscriber
    claims: ClaimLoop
    reports: AppliedReports | None = None  # for the metrics service (None: switched off)

    async def start_claims(self) -> None:
        self.claims.start()

    async def stop_claims(self) -> None:
        await self.claims.stop()

    async def close(self) -> None:
        await self.redis.aclose()


def subscribe(
    broker: RedisBroker, names: StreamNames, handle: EventHandler, batch_size: int
) -> StreamSubscriber:
    """The domain-events subscriber: acknowledgement is `Settlement`'s (manual here)."""
    subscriber = broker.subscriber(
        stream=StreamSub(
            names.stream, group=names.group, consumer=names.consumer, max_records=batch_size
        ),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        title="invalidate-cache",
        description=SUBSCRIBER_DESCRIPTION,
    )

    @subscriber
    async def invalidate_cache(event: DomainEvent) -> None:
        await handle(event)

    return subscriber


def _redis_for_invalidator(redis: RedisSettings, settings: InvalidatorSettings) -> AnyRedis:
    # The API's timeouts are tens of milliseconds (a request must never wait on Redis); this
    # service is on no request path and pipelines batches, so it may wait longer.
    timeout = max(redis.socket_timeout, settings.redis_socket_timeout)
    return make_redis(redis.model_copy(update={"socket_timeout": timeout}))


def build(
    redis_settings: RedisSettings | None = None,
    settings: InvalidatorSettings | None = None,
    *,
    consumer: str | None = None,
    store: Invalidates | None = None,
) -> Invalidator:
    """Wire the service. `consumer` names this process in the group (unique by default);
    `store` replaces the entry store (tests)."""
    redis_settings = redis_settings or RedisSettings()
    settings = settings or InvalidatorSettings()
    keyspace = KeySpace(prefix=redis_settings.key_prefix)
    names = StreamNames.under(keyspace, consumer or unique_consumer_name())
    redis = _redis_for_invalidator(redis_settings, settings)
    store = store or EntryStore(redis, keyspace)
    metrics = InvalidatorMetrics()
    reports = None
    if settings.reports_enabled:
        reports = AppliedReports(
            keyspace.stream(INVALIDATION_EVENTS_STREAM), settings.reports_maxlen
        )
    stream = EventStream(redis, names, settings.dead_letter_maxlen, reports)
    settlement = Settlement(stream, settings.max_deliveries, metrics)
    broker = waiting_broker(
        redis_settings.dsn,
        cluster=redis_settings.cluster,
        prepare=stream.ensure_group,
        middlewares=[settlement],
        graceful_timeout=5.0,
        log_level=logging.DEBUG,  # one line per message at INFO would be most of the work
        description="The deployment's Redis: streams are under the key prefix (`cc` here).",
    )
    handle = measured(store, metrics, report=reports.record if reports else None)
    subscriber = subscribe(broker, names, handle, settings.batch_size)
    claims = ClaimLoop(
        stream,
        settlement,
        redeliver_to(subscriber, names.stream),
        metrics,
        min_idle_ms=settings.claim_idle_ms,
        interval_seconds=settings.claim_interval_seconds,
        batch_size=settings.batch_size,
        resume=resume_consuming(stream, subscriber),
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
        claims,
        reports,
    )
