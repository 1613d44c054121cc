"""One write is one trace: the API's request, its SQL, the outbox relay's publish and the
invalidator's handling of the event, each span from its own service's provider (in memory).

The API (its relay running) and the invalidator run in-process on the tracing database and a
key prefix of the test's own. The negative control changes the same organization by SQL: its
outbox row has no trace context, so its relay span starts a trace of its own, which holds no
request span; were the context not carried, the write would look exactly like that.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from collabcache_api.main import create_app
from collabcache_invalidator.bootstrap import Invalidator, build
from collabcache_shared.settings import (
    ApiSettings,
    CacheSettings,
    InvalidatorSettings,
    OutboxSettings,
    RedisSettings,
)
from tests.integration.builders import Builder
from tests.integration.invalidator.support import running
from tests.integration.tracing.spans import (
    Collector,
    is_sql,
    parent_id,
    service_of,
    span_id,
    trace_id,
    traces,
    tree,
)

API = "collabcache-api"
INVALIDATOR = "collabcache-invalidator"
OUTBOX = OutboxSettings(poll_interval_seconds=0.5, retry_backoff_max_seconds=0.2)
INVALIDATOR_SETTINGS = InvalidatorSettings(claim_idle_ms=1000, claim_interval_seconds=0.2)
EVENT = "organization.changed.v1"
WITHIN_S = 10.0
OWN_EVENT_IDS = "SELECT event->>'id' FROM outbox WHERE xid = pg_current_xact_id() ORDER BY id"


@dataclass
class Traced:
    client: httpx.AsyncClient
    build: Builder
    db: asyncpg.Pool
    invalidator: Invalidator
    spans: Collector

    async def settled(self) -> bool:
        """The outbox is empty and the invalidator acknowledged every event."""
        if await self.db.fetchval("SELECT count(*) FROM outbox"):
            return False
        state = await self.invalidator.stream.group_state()
        return (state.lag, state.pending) == (0, 0)

    async def quiet(self) -> None:
        """Wait until what happened so far went through, then forget its spans."""
        deadline = time.monotonic() + WITHIN_S
        while not await self.settled():
            assert time.monotonic() < deadline, "the pipeline did not settle"
            await asyncio.sleep(0.02)
        self.spans.clear()

    async def wait_for(self, what: str, found: Callable[[], list[ReadableSpan]]) -> None:
        deadline = time.monotonic() + WITHIN_S
        while not found():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {WITHIN_S}s:\n{traces(self.spans.spans())}")
            await asyncio.sleep(0.02)


@pytest.fixture
async def traced(
    servers: dict[str, str], tracing_database_url: str, tracing_db: asyncpg.Pool, prefix: str
) -> AsyncIterator[Traced]:
    spans = Collector()
    api_settings = ApiSettings(environment="test", database_url=tracing_database_url)
    redis_settings = RedisSettings(url=servers["redis"], key_prefix=prefix)
    app = create_app(
        api_settings, redis_settings, CacheSettings(), OUTBOX, tracer_provider=spans.provider(API)
    )
    invalidator = build(
        redis_settings,
        INVALIDATOR_SETTINGS,
        consumer="tracing-test",
        tracer_provider=spans.provider(INVALIDATOR),
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        await stack.enter_async_context(running(invalidator))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://api")
        )
        yield Traced(client, Builder(tracing_db, api_settings), tracing_db, invalidator, spans)
    spans.shutdown()


def _published(spans: list[ReadableSpan], event_id: str | None = None) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.name == f"outbox publish {EVENT}" and (event_id is None or _event_id(s) == event_id)
    ]


def _invalidating(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.name == f"invalidate {EVENT}"]


def _event_id(span: ReadableSpan) -> object:
    return (span.attributes or {}).get("collabcache.event.id")


def _consumed(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    """FastStream's spans of the invalidator's subscriber (not its own "invalidate ...")."""
    return [
        s
        for s in spans
        if s.kind is SpanKind.CONSUMER
        and service_of(s) == INVALIDATOR
        and not s.name.startswith("invalidate ")
    ]


def _only(spans: list[ReadableSpan], what: str, shown: str) -> ReadableSpan:
    assert len(spans) == 1, f"expected one {what}, got {len(spans)}:\n{shown}"
    return spans[0]


async def test_one_write_is_one_trace_across_api_relay_and_invalidator(traced: Traced) -> None:
    scene = await traced.build.scene()  # by SQL: events of its own, traced apart
    await traced.quiet()

    response = await traced.client.patch(
        f"/api/organizations/{scene.org_id}", json={"name": "Traced"}, headers=scene.owner.headers
    )
    assert response.status_code == 200
    server = _only(
        [s for s in traced.spans.spans() if s.kind is SpanKind.SERVER],
        "server span",
        traces(traced.spans.spans()),
    )
    trace = trace_id(server)
    await traced.wait_for(
        "invalidator span in the write's trace",
        lambda: _invalidating(traced.spans.in_trace(trace)),
    )
    spans = traced.spans.in_trace(trace)
    shown = tree(spans)
    by_id = {span_id(s): s for s in spans}

    assert server.name == "PATCH /api/organizations/{org_id}", shown
    assert service_of(server) == API and server.parent is None, shown
    sql = [s for s in spans if is_sql(s)]
    assert sql and all(service_of(s) == API for s in sql), shown
    assert all(_descends_from(s, server, by_id) for s in sql), shown

    publish = _only(_published(spans), "relay publish span", shown)
    assert service_of(publish) == API and publish.kind is SpanKind.PRODUCER, shown
    # The outbox row stored the request span's context: the relay's span is its child.
    assert parent_id(publish) == span_id(server), shown

    invalidate = _only(_invalidating(spans), "invalidator span", shown)
    assert service_of(invalidate) == INVALIDATOR, shown
    assert _event_id(invalidate) == _event_id(publish) is not None, shown
    assert parent_id(invalidate) in by_id, f"its parent is not in the trace:\n{shown}"
    # FastStream's process span continues the message: its child, or (a batch) linked to it.
    consumed = _consumed(traced.spans.spans())
    assert consumed, f"no FastStream process span of the invalidator:\n{shown}"
    relayed = [s for s in spans if _descends_from(s, publish, by_id)]
    assert any(_continues(s, relayed, by_id) for s in consumed), shown
    print(f"\none write's trace:\n{shown}")


async def test_a_change_without_trace_context_starts_a_trace_of_its_own(traced: Traced) -> None:
    """The negative control: the relay has no context to continue for a change made by SQL."""
    scene = await traced.build.scene()
    await traced.quiet()

    async with traced.db.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE organizations SET name = $1 WHERE id = $2", "By SQL", scene.org_id
        )
        event_ids = [str(uuid.UUID(row[0])) for row in await conn.fetch(OWN_EVENT_IDS)]
    assert len(event_ids) == 1
    await traced.wait_for(
        "relay span of the SQL change", lambda: _published(traced.spans.spans(), event_ids[0])
    )
    publish = _published(traced.spans.spans(), event_ids[0])[0]
    await traced.wait_for(
        "invalidator span of the SQL change", lambda: _invalidating(traced.spans.spans())
    )
    everything = traced.spans.spans()
    shown = traces(everything)
    assert publish.parent is None, shown
    assert not [s for s in everything if s.kind is SpanKind.SERVER], shown
    print(f"\na change by SQL:\n{shown}")


def _continues(
    span: ReadableSpan, relayed: list[ReadableSpan], by_id: dict[int, ReadableSpan]
) -> bool:
    """`span` is a descendant of one of `relayed`, or links to one of them."""
    if any(_descends_from(span, r, by_id) for r in relayed):
        return True
    linked = {link.context.span_id for link in span.links}
    return any(span_id(r) in linked for r in relayed)


def _descends_from(
    span: ReadableSpan, ancestor: ReadableSpan, by_id: dict[int, ReadableSpan]
) -> bool:
    current: ReadableSpan | None = span
    while current is not None:
        if span_id(current) == span_id(ancestor):
            return True
        parent = parent_id(current)
        current = by_id.get(parent) if parent is not None else None
    return False
