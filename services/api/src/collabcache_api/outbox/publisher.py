"""Publishes outbox rows to the domain-events stream with FastStream's Redis broker.

Each row becomes one stream entry in FastStream's message format, so a FastStream subscriber
(`StreamSub(..., group="invalidator")`) reads it as any other message: the body is the
DomainEvent JSON, the headers carry `content-type`, the event id as `correlation_id` and the
event's `traceparent`. A batch goes out in one round trip, a MULTI/EXEC pipeline (all of the
batch or none of it), in order; on a Redis Cluster, where FastStream takes no pipeline, one
XADD at a time, still in order. `XADD MAXLEN ~` trims the stream as it grows.

With tracing on, each event is published in a span "outbox publish <event type>" whose parent
is the row's stored `traceparent` (the request that made the change), and the message's
`traceparent` header carries that trace on (FastStream's telemetry middleware, on the broker,
writes its own producer span's context there), so the consumer's spans join the request's
trace. A row without a `traceparent` (a change made by hand-written SQL) starts a trace.
In a pipelined batch, the spans cover queueing the command; the batch goes out after them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from faststream.redis import RedisBroker, RedisClusterBroker
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Tracer
from redis.exceptions import RedisClusterException, RedisError

from collabcache_shared.settings import OutboxSettings, RedisSettings
from collabcache_shared.telemetry import propagation
from collabcache_shared.telemetry.logs import BROKER_LOGGER
from collabcache_shared.telemetry.tracing import broker_middlewares

from .repository import OutboxRow

JSON = "application/json"


class PublishFailed(Exception):
    """Redis did not take the batch: the rows stay in the outbox."""


def make_broker(
    redis_settings: RedisSettings,
    settings: OutboxSettings,
    tracer_provider: TracerProvider | None = None,
) -> RedisBroker:
    """A broker that connects on first use (building it touches no network)."""
    options: dict[str, Any] = {
        "socket_timeout": settings.publish_timeout_seconds,
        "socket_connect_timeout": min(settings.publish_timeout_seconds, 1.0),
        "client_name": "collabcache-outbox-relay",
        "middlewares": broker_middlewares(tracer_provider),
        "logger": logging.getLogger(BROKER_LOGGER),  # the process's format, no ANSI colours
    }
    if redis_settings.cluster:
        return RedisClusterBroker(redis_settings.dsn, **options)
    return RedisBroker(redis_settings.dsn, **options)


class StreamPublisher:
    def __init__(
        self,
        broker: RedisBroker,
        stream: str,
        settings: OutboxSettings,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.broker = broker
        self.stream = stream
        self._maxlen = settings.stream_maxlen
        self._timeout = settings.publish_timeout_seconds
        self._pipelined = not isinstance(broker, RedisClusterBroker)
        self._tracer: Tracer | None = None
        if tracer_provider is not None:
            self._tracer = tracer_provider.get_tracer(__name__)

    async def publish(self, rows: Sequence[OutboxRow]) -> None:
        """Every row on the stream, in order, or `PublishFailed`."""
        try:
            async with asyncio.timeout(self._timeout):
                client = await self.broker.connect()
                if self._pipelined:
                    async with client.pipeline(transaction=True) as pipe:
                        for row in rows:
                            await self._publish(row, pipeline=pipe)
                        await pipe.execute()
                else:
                    for row in rows:
                        await self._publish(row)
        except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc

    async def _publish(self, row: OutboxRow, **pipeline: Any) -> None:
        headers = {"content-type": JSON}
        if self._tracer is not None:
            await self._publish_traced(self._tracer, row, headers, pipeline)
            return
        if row.traceparent:
            headers["traceparent"] = row.traceparent
        await self._send(row, headers, pipeline)

    async def _publish_traced(
        self, tracer: Tracer, row: OutboxRow, headers: dict[str, str], pipeline: dict[str, Any]
    ) -> None:
        event_type = row.event_type or "unknown"
        with tracer.start_as_current_span(
            f"outbox publish {event_type}",
            context=propagation.context_of(row.traceparent),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "redis",
                "messaging.destination.name": self.stream,
                "collabcache.event.id": row.event_id or "",
                "collabcache.event.type": event_type,
                "collabcache.outbox.id": row.id,
            },
        ):
            propagation.inject(headers)
            await self._send(row, headers, pipeline)

    async def _send(
        self, row: OutboxRow, headers: dict[str, str], pipeline: dict[str, Any]
    ) -> None:
        await self.broker.publish(
            row.event.encode(),
            stream=self.stream,
            maxlen=self._maxlen,
            headers=headers,
            correlation_id=row.event_id,
            **pipeline,
        )

    async def close(self) -> None:
        await self.broker.stop()
