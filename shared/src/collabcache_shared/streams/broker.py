"""Redis brokers (standalone or cluster) that wait for Redis before starting their subscribers.

A stream subscriber's start runs XGROUP CREATE, which fails while Redis is unreachable, and a
failed start takes the whole application down. In an ASGI application FastStream starts the
brokers after the lifespan has reported startup complete, so waiting here keeps `/health`
answering (and `/ready` saying 503) until Redis answers; then `prepare` runs (creating the
consumer group from the stream's start) and the subscribers start.

Shared by the invalidator and the metrics service (the API only publishes).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from faststream.redis import RedisBroker, RedisClusterBroker
from redis.exceptions import RedisError

from ..telemetry.logs import BROKER_LOGGER

log = logging.getLogger(__name__)

Prepare = Callable[[], Awaitable[object]]


class _WaitsForRedis(RedisBroker):
    def __init__(
        self,
        url: str,
        *,
        prepare: Prepare | None = None,
        retry_seconds: float = 1.0,
        ping_timeout: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(url, **options)
        self._prepare = prepare
        self._retry_seconds = retry_seconds
        self._ping_timeout = ping_timeout

    async def start(self) -> None:
        await self.connect()
        waited = False
        while not await self._ready_to_consume():
            if self._connection is None:  # stopped while waiting: nothing to start
                return
            if not waited:
                log.warning("Redis unreachable: the consumers start once it answers")
                waited = True
            await anyio.sleep(self._retry_seconds)
        await super().start()

    async def _ready_to_consume(self) -> bool:
        try:
            if not await self.ping(timeout=self._ping_timeout):
                return False
        except AttributeError:  # the broker was stopped (its connection dropped) mid-ping
            return False
        if self._prepare is None:
            return True
        try:
            await self._prepare()
        except (RedisError, OSError):
            log.warning("preparing the consumers failed; trying again", exc_info=True)
            return False
        return True


class WaitingRedisBroker(_WaitsForRedis):
    pass


class WaitingRedisClusterBroker(_WaitsForRedis, RedisClusterBroker):
    pass


def waiting_broker(url: str, *, cluster: bool, **options: Any) -> RedisBroker:
    """Its lines go through the process's logging (a plain logger: FastStream's own would
    write ANSI colours and bypass the format)."""
    options.setdefault("logger", logging.getLogger(BROKER_LOGGER))
    kind = WaitingRedisClusterBroker if cluster else WaitingRedisBroker
    return kind(url, **options)
