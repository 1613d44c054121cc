"""One span per applied domain event, "invalidate <event type>", in the trace of the change
that made it: its parent is the event envelope's `traceparent` (the HTTP request that
committed the change), or none (a trace of its own) when the event carries none.

With no tracer provider given, the global one is used while a process has set one; while none
is set, nothing is started and no trace context is parsed: tracing off costs one check a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from collabcache_shared.telemetry.propagation import context_of

from .decoding import Delivery

TRACER_NAME = "collabcache_invalidator"
EVENT_ID = "collabcache.event.id"
EVENT_TYPE = "collabcache.event.type"
KEYS_INVALIDATED = "collabcache.invalidation.keys"
ENTRY_ID = "messaging.message.id"  # the stream entry

Spans = list[Span] | None  # None: tracing is off


class EventTracing:
    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._tracer = provider.get_tracer(TRACER_NAME) if provider is not None else None

    def tracer(self) -> Tracer | None:
        """The given provider's tracer, else the global provider's once one was set."""
        if self._tracer is not None:
            return self._tracer
        provider = trace.get_tracer_provider()
        if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
            return None
        return provider.get_tracer(TRACER_NAME)

    def start(self, deliveries: Sequence[Delivery]) -> Spans:
        """A span for each delivery (an event), started now; linked to the span that is
        current (the batch's, when FastStream's telemetry middleware runs)."""
        tracer = self.tracer()
        if tracer is None:
            return None
        current = trace.get_current_span().get_span_context()
        links = [Link(current)] if current.is_valid else None
        return [_start(tracer, delivery, links) for delivery in deliveries]


def _start(tracer: Tracer, delivery: Delivery, links: list[Link] | None) -> Span:
    event = delivery.event
    assert event is not None
    return tracer.start_span(
        f"invalidate {event.type}",
        context=context_of(event.traceparent),
        kind=SpanKind.CONSUMER,
        attributes={
            EVENT_ID: str(event.id),
            EVENT_TYPE: event.type,
            ENTRY_ID: delivery.id.decode(),
        },
        links=links,
    )


def succeeded(span: Span | None, keys: int) -> None:
    if span is not None:
        span.set_attribute(KEYS_INVALIDATED, keys)
        span.end()


def failed(span: Span | None, exc: Exception) -> None:
    if span is not None:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        span.end()
