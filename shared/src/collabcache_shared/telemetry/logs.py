"""Logging for a service process: one handler on the root logger, JSON lines (production's
default) or text, every record carrying the `trace_id` and `span_id` of the span active when
it was logged (none outside any span)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from opentelemetry import trace
from opentelemetry.trace import format_span_id, format_trace_id
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from .settings import LogFormat, TelemetrySettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}
# Record attributes left out of JSON lines: the standard ones, and uvicorn's colored copy of
# its message.
JSON_SKIPPED = [*RESERVED_ATTRS, "color_message"]


class TraceContextFilter(logging.Filter):
    """Adds `trace_id` / `span_id` (lowercase hex, as in `traceparent`) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format_trace_id(context.trace_id)
            record.span_id = format_span_id(context.span_id)
        return True


class TextFormatter(logging.Formatter):
    """The usual line, with ` trace_id=... span_id=...` when a span was active."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = getattr(record, "trace_id", None)
        if trace_id is None:
            return line
        head, newline, rest = line.partition("\n")  # a traceback stays below the line
        span_id = getattr(record, "span_id", "")
        return f"{head} trace_id={trace_id} span_id={span_id}{newline}{rest}"


def formatter(log_format: LogFormat, service_name: str) -> logging.Formatter:
    if log_format is LogFormat.JSON:
        return JsonFormatter(
            JSON_FIELDS,
            rename_fields=JSON_NAMES,
            static_fields={"service": service_name},
            reserved_attrs=JSON_SKIPPED,
        )
    return TextFormatter(TEXT_FORMAT)


def make_handler(
    settings: TelemetrySettings, service_name: str, stream: TextIO | None = None
) -> logging.Handler:
    """A handler writing `settings`' format to `stream` (stderr), trace ids included."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings.resolved_log_format, service_name))
    handler.addFilter(TraceContextFilter())
    return handler


# FastStream gives its own logger a handler of its own that always writes ANSI colours, and
# stops it propagating: its lines would bypass the format, and land in files as escape codes.
FASTSTREAM_LOGGER = "faststream"
BROKER_LOGGER = "collabcache.broker"  # what our brokers log through (shared.streams.broker)


def configure_logging(settings: TelemetrySettings, service_name: str) -> logging.Handler:
    """The process's logging: the root logger's handlers replaced by one of `make_handler`,
    FastStream's lines included."""
    handler = make_handler(settings, service_name)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    faststream = logging.getLogger(FASTSTREAM_LOGGER)
    faststream.handlers.clear()
    faststream.propagate = True
    return handler
