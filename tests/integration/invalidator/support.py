"""Helpers of the invalidator's integration tests: publishing as the outbox relay does,
running the whole service, waiting for a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from faststream import TestApp
from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker

from collabcache_invalidator.bootstrap import Invalidator
from collabcache_invalidator.main import app_of
from collabcache_shared.events import DomainEvent
from collabcache_shared.settings import InvalidatorSettings

# Recovery within a second instead of thirty.
FAST = InvalidatorSettings(claim_idle_ms=1000, claim_interval_seconds=0.1, max_deliveries=3)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def publish(broker: RedisBroker, stream: str, messages: Sequence[object]) -> None:
    """Publish 50 at a time. A DomainEvent goes as the API's outbox relay sends one: its JSON
    as bytes, `content-type: application/json`, its id as correlation id, a traceparent
    header. Anything else (a dict: FastStream's own JSON) is published as given."""
    for start in range(0, len(messages), 50):
        await asyncio.gather(*(_publish(broker, stream, m) for m in messages[start : start + 50]))


async def _publish(broker: RedisBroker, stream: str, message: object) -> None:
    if not isinstance(message, DomainEvent):
        await broker.publish(message, stream=stream, headers={"traceparent": TRACEPARENT})
        return
    await broker.publish(
        message.model_dump_json().encode(),
        stream=stream,
        headers={"content-type": "application/json", "traceparent": TRACEPARENT},
        correlation_id=str(message.id),
    )


def as_json(events: Sequence[DomainEvent]) -> list[object]:
    return [e.model_dump(mode="json") for e in events]


@asynccontextmanager
async def running(invalidator: Invalidator) -> AsyncIterator[AsgiFastStream]:
    """The service's whole lifecycle (hooks, broker, stream worker), started and stopped."""
    app = app_of(invalidator)
    async with TestApp(app):
        yield app


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {within}s: {check.__qualname__}")
        await asyncio.sleep(0.02)
