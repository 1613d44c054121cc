"""Publishes outbox rows to the domain-events stream with FastStream's Redis broker.

Each row becomes one stream entry in FastStream's message format, so a FastStream subscriber
(`StreamSub(..., group="invalidator")`) reads it as any other message: the body is the
DomainEvent JSON, the headers carry `content-type`, the event id as `correlation_id` and the
event's `traceparent`. A batch goes out in one round trip, a MULTI/EXEC pipeline (all of the
batch or none of it), in order; on a Redis Cluster, where FastStream takes no pipeline, one
XADD at a time, still in order. `XADD MAXLEN ~` trims the stream as it grows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream.redis import RedisBroker, RedisClusterBroker
from redis.exceptions import RedisClusterException, RedisError

from collabcache_shared.settings import OutboxSettings, RedisSettings

from .repository import OutboxRow

JSON = "application/json"


class PublishFailed(Exception):
    """Redis did not take the batch: the rows stay in the outbox."""


def make_broker(redis_settings: RedisSettings, settings: OutboxSettings) -> RedisBroker:
    """A broker that connects on first use (building it touches no network)."""
    options: dict[str, Any] = {
        "socket_timeout": settings.publish_timeout_seconds,
        "socket_connect_timeout": min(settings.publish_timeout_seconds, 1.0),
        "client_name": "collabcache-outbox-relay",
    }
    if redis_settings.cluster:
        return RedisClusterBroker(redis_settings.dsn, **options)
    return RedisBroker(redis_settings.dsn, **options)


class StreamPublisher:
    def __init__(self, broker: RedisBroker, stream: str, settings: OutboxSettings) -> None:
        self.broker = broker
        self.stream = stream
        self._maxlen = settings.stream_maxlen
        self._timeout = settings.publish_timeout_seconds
        self._pipelined = not isinstance(broker, RedisClusterBroker)

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
        if row.traceparent:
            headers["traceparent"] = row.traceparent
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
