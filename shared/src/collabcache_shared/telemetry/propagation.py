"""W3C trace context in and out of strings: what an outbox row and a stream message carry."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
_W3C = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The `traceparent` of the span active now, or None when there is none (tracing off)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent: str | None) -> Context:
    """The context a span continues from `traceparent`: an empty one (a new trace) when the
    value is missing or malformed."""
    if not traceparent:
        return Context()
    return _W3C.extract({TRACEPARENT: traceparent}, context=Context())


def inject(headers: dict[str, str], context: Context | None = None) -> None:
    """Write the active span's (or `context`'s) `traceparent` into `headers`."""
    _W3C.inject(headers, context=context)
