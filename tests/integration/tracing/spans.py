"""Spans collected in memory, one provider per service, and how a test reads them: by trace,
as a tree (printed in assertion messages)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from collabcache_shared.telemetry.tracing import make_tracer_provider


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes.get("service.name", "?"))


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def is_sql(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    system = attributes.get("db.system") or attributes.get("db.system.name")
    return span.kind is SpanKind.CLIENT and system == "postgresql"


def is_redis(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    system = attributes.get("db.system") or attributes.get("db.system.name")
    return span.kind is SpanKind.CLIENT and system == "redis"


@dataclass
class Collector:
    """An in-memory provider per service name; every span each one ended."""

    exporters: dict[str, InMemorySpanExporter] = field(default_factory=dict)
    providers: dict[str, TracerProvider] = field(default_factory=dict)

    def provider(self, service: str) -> TracerProvider:
        provider = make_tracer_provider(service, "test", "test")
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.providers[service] = provider
        self.exporters[service] = exporter
        return provider

    def spans(self) -> list[ReadableSpan]:
        every = [s for e in self.exporters.values() for s in e.get_finished_spans()]
        return sorted(every, key=lambda s: s.start_time or 0)

    def in_trace(self, trace: int) -> list[ReadableSpan]:
        return [s for s in self.spans() if trace_id(s) == trace]

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def clear(self) -> None:
        for exporter in self.exporters.values():
            exporter.clear()

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()


def tree(spans: Iterable[ReadableSpan]) -> str:
    """The spans as an indented tree: `service: name [kind]`, children under their parent,
    spans whose parent is not among them at the top (marked with their parent's id)."""
    spans = sorted(spans, key=lambda s: s.start_time or 0)
    ids = {span_id(s) for s in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for s in spans:
        parent = parent_id(s)
        children.setdefault(parent if parent in ids else None, []).append(s)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        parent = parent_id(span)
        orphan = f" (parent {parent:016x} not here)" if depth == 0 and parent else ""
        kind = span.kind.name.lower()
        lines.append(f"{'  ' * depth}{service_of(span)}: {span.name} [{kind}]{orphan}")
        for child in children.get(span_id(span), []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return "\n".join(lines)


def traces(spans: Iterable[ReadableSpan]) -> str:
    """Every trace among `spans`, as trees."""
    by_trace: dict[int, list[ReadableSpan]] = {}
    for s in spans:
        by_trace.setdefault(trace_id(s), []).append(s)
    return "\n\n".join(f"trace {t:032x}\n{tree(group)}" for t, group in by_trace.items())
