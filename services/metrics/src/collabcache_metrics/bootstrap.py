"""The composition root: settings, the Redis client, the aggregate writers and reader, the
broker and its two batch subscribers (cache events, invalidations), the stream worker and the
snapshot cache, wired once. Building connects to nothing; the application's lifespan starts
and stops what needs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from faststream.redis import RedisBroker
from faststream.redis.annotations import RedisBatchStreamMessage
from faststream.redis.message import FAKE_CONSUMER
from faststream.redis.message import RedisBatchStreamMessage as RedisBatchMessage
from faststream.redis.subscriber.usecases.stream_subscriber import StreamBatchSubscriber
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis
from collabcache_shared.events import METRICS_GROUP
from collabcache_shared.metrics.layout import AggregateKeys
from collabcache_shared.metrics.reader import AggregateReader
from collabcache_shared.metrics.writer import AggregateWriter
from collabcache_shared.settings import MetricsSettings, RedisSettings
from collabcache_shared.streams.broker import batch_subscriber, dispatch_to, dispatching_broker
from collabcache_shared.streams.group import GroupStream
from collabcache_shared.streams.names import GroupNames, unique_consumer_name
from collabcache_shared.streams.worker import Consumed, Consuming, StreamWorker
from collabcache_shared.telemetry import tracing

from .consumer import (
    CACHE_EVENTS,
    INVALIDATIONS,
    BatchConsumer,
    Folder,
    Source,
    batch_of,
    fold_cache_entries,
    fold_invalidation_entries,
)
from .prometheus import AggregateCollector
from .service_metrics import ServiceMetrics
from .snapshots import Snapshots

log = logging.getLogger("collabcache_metrics")
GRACEFUL_SECONDS = 5.0  # a batch being applied at shutdown is given this long to finish
FOLDED: list[tuple[Source, Folder]] = [
    (CACHE_EVENTS, fold_cache_entries),
    (INVALIDATIONS, fold_invalidation_entries),
]

DESCRIPTIONS = {
    CACHE_EVENTS.kind: (
        "Every cache lookup the API made (`CacheEvent`: endpoint template, family, outcome, "
        "latency, size), folded in batches into per-second, per-minute and all-time aggregates "
        "in Redis; each batch is applied and acknowledged in one MULTI/EXEC. Consumer group "
        "`metrics`; batches a dead consumer left pending are claimed after the claim idle time."
    ),
    INVALIDATIONS.kind: (
        "Every domain event the invalidator applied (`InvalidationApplied`: event type, keys, "
        "lag), folded like the cache events into invalidation counts and a lag histogram."
    ),
}


@dataclass(frozen=True)
class MetricsService:
    """Everything the service is made of, for the application and for tests."""

    settings: MetricsSettings
    redis: AnyRedis
    groups: list[GroupStream]
    consumers: list[BatchConsumer]
    reader: AggregateReader
    snapshots: Snapshots
    registry: CollectorRegistry
    metrics: ServiceMetrics
    broker: RedisBroker
    subscribers: list[StreamBatchSubscriber]
    worker: StreamWorker

    async def close(self) -> None:
        """After the worker stopped (what it read applied, its groups left): disconnect."""
        await self.redis.aclose()


async def raw_batch(message: Any) -> RedisBatchMessage:
    """The batch as read. FastStream's own parsing (JSON-decoding every entry, then encoding
    the whole batch again) is skipped: `consume` decodes each entry once, into its schema."""
    return RedisBatchMessage(message, b"", consumer=FAKE_CONSUMER, group=None)


async def no_body(message: Any) -> None:
    return None


def subscribe(
    broker: RedisBroker, names: GroupNames, consumer: BatchConsumer, batch_size: int
) -> StreamBatchSubscriber:
    """A batch subscriber: each batch the worker hands on is one `consume` (manual
    acknowledgement: the XACK is part of the batch's transaction)."""
    kind = consumer.source.kind
    subscriber = batch_subscriber(
        broker,
        names,
        batch_size,
        parser=raw_batch,
        decoder=no_body,
        title=f"aggregate-{kind.replace('_', '-')}",
        description=DESCRIPTIONS[kind],
    )

    @subscriber
    async def aggregate(message: RedisBatchStreamMessage) -> None:
        await consumer.consume(*batch_of(message.raw_message))

    return subscriber


def _redis_for_metrics(redis: RedisSettings, settings: MetricsSettings) -> AnyRedis:
    # No client retries: a transaction retried after its EXEC ran would count a batch twice
    # (see `collabcache_shared.metrics.writer`); this service is on no request path, so it
    # may wait longer than the API does.
    timeout = max(redis.socket_timeout, settings.redis_socket_timeout)
    return make_redis(redis.model_copy(update={"socket_timeout": timeout, "retry_attempts": 0}))


def build(
    redis_settings: RedisSettings | None = None,
    settings: MetricsSettings | None = None,
    *,
    consumer: str | None = None,
    tracer_provider: TracerProvider | None = None,
) -> MetricsService:
    """Wire the service. `consumer` names this process in the groups (unique by default);
    with a `tracer_provider`, each batch consumed is a span (linked to the traces its entries
    carry) and each Redis command within it a child span."""
    redis_settings = redis_settings or RedisSettings()
    settings = settings or MetricsSettings()
    keyspace = KeySpace(prefix=redis_settings.key_prefix)
    consumer = consumer or unique_consumer_name()
    redis = _redis_for_metrics(redis_settings, settings)
    tracing.instrument_redis(redis, tracer_provider)
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    names = [GroupNames(keyspace.stream(s.name), METRICS_GROUP, consumer) for s, _ in FOLDED]
    groups = [GroupStream(redis, n) for n in names]
    consumers = [
        BatchConsumer(
            source,
            AggregateWriter(redis, AggregateKeys.of(keyspace, source.name), METRICS_GROUP),
            folder,
            metrics,
            max_apply_seconds=settings.claim_idle_ms / 2000,
        )
        for source, folder in FOLDED
    ]
    reader = AggregateReader(redis, keyspace)
    snapshots = Snapshots(reader, settings.snapshot_cache_seconds)
    registry.register(AggregateCollector(snapshots))
    broker = dispatching_broker(
        redis_settings.dsn,
        cluster=redis_settings.cluster,
        middlewares=tracing.broker_middlewares(tracer_provider),
        graceful_timeout=GRACEFUL_SECONDS,
        log_level=logging.DEBUG,  # one line per batch at INFO would be noise
        description="The deployment's Redis: streams are under the key prefix (`cc` here).",
    )
    subscribers = [
        subscribe(broker, n, c, settings.batch_size) for n, c in zip(names, consumers, strict=True)
    ]
    worker = StreamWorker(
        "metrics",
        [
            Consumed(
                group,
                dispatch_to(subscriber, group.names.stream),
                claimed=metrics.claimed.labels(stream=source.kind).inc,
            )
            for group, subscriber, (source, _) in zip(groups, subscribers, FOLDED, strict=True)
        ],
        Consuming(
            batch_size=settings.batch_size,
            claim_idle_ms=settings.claim_idle_ms,
            claim_interval_seconds=settings.claim_interval_seconds,
            settle_own_pending_at_stop=True,  # its batches applied here, not at a claim's wait
        ),
    )
    return MetricsService(
        settings,
        redis,
        groups,
        consumers,
        reader,
        snapshots,
        registry,
        metrics,
        broker,
        subscribers,
        worker,
    )
