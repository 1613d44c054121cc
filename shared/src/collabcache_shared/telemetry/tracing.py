"""Tracer providers and the instrumentation every service shares (Redis clients, FastStream
brokers).

A provider exists only when an endpoint is configured: with none, `build_tracer_provider`
returns None, and every helper here then does nothing (no middleware, no wrapped client), so
tracing switched off costs nothing. Helpers take the provider explicitly: tests build one per
service in one process; entrypoints also make theirs the global one (`install`), for library
spans that find no provider of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from .settings import TelemetrySettings

if TYPE_CHECKING:
    from faststream.redis.opentelemetry import RedisTelemetryMiddleware

log = logging.getLogger(__name__)


class NoOrphanClientSpans(Sampler):
    """Drops a CLIENT span (one Redis command, one SQL query) that starts a trace of its own:
    background loops (claims, event flushes, probes) would otherwise send one single-span
    trace per command. Within a request's or a message's trace, every span is kept."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "NoOrphanClientSpans"


SAMPLER = ParentBased(root=NoOrphanClientSpans())


def service_resource(service_name: str, version: str, environment: str) -> Resource:
    """`Resource.create` also reads `OTEL_RESOURCE_ATTRIBUTES`; the values given here win."""
    return Resource.create(
        {
            "service.name": service_name,
            "service.version": version,
            "deployment.environment": environment,
        }
    )


def make_tracer_provider(service_name: str, version: str, environment: str) -> TracerProvider:
    """A provider with the service's resource and sampler, and no exporter yet."""
    return TracerProvider(
        resource=service_resource(service_name, version, environment), sampler=SAMPLER
    )


def build_tracer_provider(
    settings: TelemetrySettings, *, service_name: str, version: str
) -> TracerProvider | None:
    """Batches of spans to the OTLP/HTTP endpoint, or None when none is configured."""
    endpoint = settings.traces_endpoint
    if endpoint is None:
        return None
    # Imported here: the exporter (requests, protobuf) is loaded only when tracing is on.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = settings.service_name or service_name
    provider = make_tracer_provider(name, version, settings.environment.value)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    log.info("tracing: %s sends spans to %s", name, endpoint)
    return provider


def install(provider: TracerProvider) -> None:
    """Make `provider` the process's global one (once per process: entrypoints only)."""
    trace.set_tracer_provider(provider)


def from_environment(service_name: str, version: str) -> TracerProvider | None:
    """The entrypoint's provider: built from the environment and made global, or None."""
    provider = build_tracer_provider(
        TelemetrySettings(), service_name=service_name, version=version
    )
    if provider is not None:
        install(provider)
    return provider


def shutdown(provider: TracerProvider | None) -> None:
    """Send what is still batched, then stop the exporter (a bounded wait)."""
    if provider is not None:
        provider.shutdown()


def broker_middlewares(
    provider: trace.TracerProvider | None,
) -> list[RedisTelemetryMiddleware]:
    """FastStream's Redis telemetry middleware: a span per message published or processed,
    the `traceparent` header written and read. None without a provider."""
    if provider is None:
        return []
    from faststream.redis.opentelemetry import RedisTelemetryMiddleware

    return [RedisTelemetryMiddleware(tracer_provider=provider, include_messages_counters=False)]


def instrument_redis(client: Any, provider: trace.TracerProvider | None) -> None:
    """A span per command (or pipeline) of this one client; nothing without a provider."""
    if provider is None:
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor.instrument_client(client, tracer_provider=provider)
