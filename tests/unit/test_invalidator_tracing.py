"""Each applied event has a span "invalidate <type>" in the trace of the change that made it
(the envelope's `traceparent`), or in a trace of its own when it carries none; with no tracer
provider given and none set for the process, nothing is traced."""

from __future__ import annotations

import pytest
from faststream.redis import TestRedisBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collabcache_invalidator import tracing
from collabcache_invalidator.bootstrap import Invalidator, build
from collabcache_invalidator.decoding import Delivery
from collabcache_invalidator.tracing import EVENT_ID, EVENT_TYPE, KEYS_INVALIDATED, EventTracing
from collabcache_shared.events import DomainEvent
from collabcache_shared.invalidation import keys_for
from collabcache_shared.settings import InvalidatorSettings, RedisSettings
from tests.invalidator_support import RecordingStore, RecordingStreamOps, sample_events

UNREACHABLE = RedisSettings(url="redis://127.0.0.1:1/0", key_prefix="unit")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def traced() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def wired(provider: TracerProvider) -> Invalidator:
    invalidator = build(
        UNREACHABLE,
        InvalidatorSettings(),
        consumer="unit",
        store=RecordingStore(),
        tracer_provider=provider,
    )
    invalidator.settlement.stream = RecordingStreamOps()
    return invalidator


def invalidations(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    spans = exporter.get_finished_spans()
    return {s.name: s for s in spans if s.name.startswith("invalidate ")}


async def test_an_event_is_traced_in_the_trace_of_its_change_or_in_its_own() -> None:
    provider, exporter = traced()
    invalidator = wired(provider)
    samples = sample_events()
    joined = samples["study.updated"].model_copy(
        update={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    )
    alone = samples["team.created"]

    async with TestRedisBroker(invalidator.broker) as broker:
        for event in (joined, alone):
            await broker.publish(event.model_dump(mode="json"), stream=invalidator.names.stream)

    spans = invalidations(exporter)
    continued, started = spans[f"invalidate {joined.type}"], spans[f"invalidate {alone.type}"]
    assert continued.context is not None and started.context is not None
    assert continued.parent is not None and continued.parent.span_id == int(PARENT_ID, 16)
    assert continued.context.trace_id == int(TRACE_ID, 16)
    assert started.parent is None
    assert started.context.trace_id != int(TRACE_ID, 16)
    assert continued.attributes is not None
    assert continued.attributes[EVENT_ID] == str(joined.id)
    assert continued.attributes[EVENT_TYPE] == "study.changed.v1"
    assert continued.attributes[KEYS_INVALIDATED] == len(set(keys_for(joined.payload)))
    assert continued.kind is trace.SpanKind.CONSUMER


async def test_faststream_traces_the_batch_the_event_spans_link_to() -> None:
    provider, exporter = traced()
    invalidator = wired(provider)
    event = sample_events()["comment.added"]

    async with TestRedisBroker(invalidator.broker) as broker:
        await broker.publish(event.model_dump(mode="json"), stream=invalidator.names.stream)

    (span,) = invalidations(exporter).values()
    batch_spans = {s.context.span_id for s in exporter.get_finished_spans() if s.context}
    assert [link.context.span_id for link in span.links] != []
    assert {link.context.span_id for link in span.links} <= batch_spans


def deliveries(*events: DomainEvent) -> list[Delivery]:
    return [Delivery(b"1-0", {}, event) for event in events]


def test_with_no_provider_events_are_traced_only_once_the_process_has_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider, exporter = traced()
    events = deliveries(*sample_events().values())
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    assert EventTracing().start(events) is None

    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    spans = EventTracing().start(events)

    assert spans is not None and len(spans) == len(events)
    for span in spans:
        tracing.succeeded(span, 1)
    assert len(exporter.get_finished_spans()) == len(events)
