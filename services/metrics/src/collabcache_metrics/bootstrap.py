"""The composition root: settings, the Redis client, the aggregate writers and reader, the
broker and its two batch subscribers (cache events, invalidations), the claim loop and the
snapshot cache, wired once. Building connects to nothing; the application's lifespan starts
and stops what needs it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisBatchStreamMessage
from faststream.redis.message import FAKE_CONSUMER
from faststream.redis.message import RedisBatchStreamMessage as RedisBatchMessage
from faststream.redis.subscriber.usecases.stream_subscriber import StreamBatchSubscriber
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis
from collabcache_shared.metrics.layout import AggregateKeys
from collabcache_shared.metrics.reader import AggregateReader
from collabcache_shared.metrics.writer import AggregateWriter
from collabcache_shared.settings import MetricsSettings, RedisSettings
from collabcache_shared.streams.broker import waiting_broker
from collabcache_shared.streams.groups import reading_tasks, reads_ended
from collabcache_shared.telemetry import tracing

from .claims import ClaimLoop, Watched, resume_consuming
from .consumer import (
    BatchConsumer,
    Folder,
    batch_of,
    fold_cache_entries,
    fold_invalidation_entries,
)
from .prometheus import AggregateCollector
from .service_metrics import ServiceMetrics
from .snapshots import Snapshots
from .streams import GroupStream, StreamNames, unique_consumer_name

log = logging.getLogger("collabcache_metrics")
GRACEFUL_SECONDS = 5.0  # a batch being applied at shutdown is given this long to finish

DESCRIPTIONS = {
    "cache_events": (
        "Every cache lookup the API made (`CacheEvent`: endpoint template, family, outcome, "
        "latency, size), folded in batches into per-second, per-minute and all-time aggregates "
        "in Redis; each batch is applied and acknowledged in one MULTI/EXEC. Consumer group "
        "`metrics`; batches a dead consumer left pending are claimed after the claim idle time."
    ),
    "invalidations": (
        "Every domain event the invalidator applied (`InvalidationApplied`: event type, keys, "
        "lag), folded like the cache events into invalidation counts and a lag histogram."
    ),
}


@dataclass(frozen=True)
class MetricsService:
    """Everything the service is made of, for the application and for tests."""

    settings: MetricsSettings
    redis: AnyRedis
    streams: list[GroupStream]
    consumers: list[BatchConsumer]
    reader: AggregateReader
    snapshots: Snapshots
    registry: CollectorRegistry
    metrics: ServiceMetrics
    broker: RedisBroker
    subscribers: list[StreamBatchSubscriber]
    claims: ClaimLoop
    reading: list[asyncio.Task[Any]] = field(default_factory=list)

    async def start_claims(self) -> None:
        self.claims.start()

    async def stop_claims(self) -> None:
        """Before the broker stops: the claim loop ends, and the subscribers' reading tasks
        are noted (FastStream cancels them without waiting for them to end)."""
        await self.claims.stop()
        self.reading[:] = reading_tasks(self.subscribers)

    async def close(self) -> None:
        """Once no read of ours can reach Redis any more (a read still in flight would put
        this consumer back in the group), apply what this consumer read and never applied,
        leave the groups (when nothing is pending for it, and only if it ever consumed), then
        disconnect."""
        await reads_ended(self.reading)
        if self.claims.started:
            await self._leave_groups()
        await self.redis.aclose()

    async def _leave_groups(self) -> None:
        try:
            await self.claims.apply_own_pending()
        except Exception:
            log.warning("could not apply this consumer's pending entries", exc_info=True)
        for stream in self.streams:
            try:
                await stream.leave()
            except Exception:
                log.warning("could not leave %s's group", stream.names.kind, exc_info=True)


async def raw_batch(message: Any) -> RedisBatchMessage:
    """The batch as read. FastStream's own parsing (JSON-decoding every entry, then encoding
    the whole batch again) is skipped: `consume` decodes each entry once, into its schema."""
    return RedisBatchMessage(message, b"", consumer=FAKE_CONSUMER, group=None)


async def no_body(message: Any) -> None:
    return None


def subscribe(
    broker: RedisBroker, consumer: BatchConsumer, batch_size: int
) -> StreamBatchSubscriber:
    """A batch subscriber: each XREADGROUP's entries are one `consume` (manual acknowledgement:
    the XACK is part of the batch's transaction)."""
    names = consumer.names
    subscriber = broker.subscriber(
        stream=StreamSub(
            names.stream,
            group=names.group,
            consumer=names.consumer,
            batch=True,
            max_records=batch_size,
        ),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        parser=raw_batch,
        decoder=no_body,
        title=f"aggregate-{names.kind.replace('_', '-')}",
        description=DESCRIPTIONS[names.kind],
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
    folders: list[tuple[StreamNames, Folder]] = [
        (StreamNames.cache_events(keyspace, consumer), fold_cache_entries),
        (StreamNames.invalidations(keyspace, consumer), fold_invalidation_entries),
    ]
    streams = [GroupStream(redis, names) for names, _ in folders]
    consumers = [
        BatchConsumer(
            names,
            AggregateWriter(redis, AggregateKeys.of(keyspace, names.name), names.group),
            folder,
            metrics,
            max_apply_seconds=settings.claim_idle_ms / 2000,
        )
        for names, folder in folders
    ]
    reader = AggregateReader(redis, keyspace)
    snapshots = Snapshots(reader, settings.snapshot_cache_seconds)
    registry.register(AggregateCollector(snapshots))

    async def prepare() -> None:
        for stream in streams:
            await stream.ensure_group()

    broker = waiting_broker(
        redis_settings.dsn,
        cluster=redis_settings.cluster,
        prepare=prepare,
        middlewares=tracing.broker_middlewares(tracer_provider),
        graceful_timeout=GRACEFUL_SECONDS,
        log_level=logging.DEBUG,  # one line per batch at INFO would be noise
        description="The deployment's Redis: streams are under the key prefix (`cc` here).",
    )
    subscribers = [subscribe(broker, c, settings.batch_size) for c in consumers]
    claims = ClaimLoop(
        [
            Watched(stream, consumer, resume_consuming(stream, subscriber))
            for stream, consumer, subscriber in zip(streams, consumers, subscribers, strict=True)
        ],
        min_idle_ms=settings.claim_idle_ms,
        interval_seconds=settings.claim_interval_seconds,
        batch_size=settings.batch_size,
    )
    return MetricsService(
        settings,
        redis,
        streams,
        consumers,
        reader,
        snapshots,
        registry,
        metrics,
        broker,
        subscribers,
        claims,
    )
