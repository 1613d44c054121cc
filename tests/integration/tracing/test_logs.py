"""Log lines carry the trace and span ids of the span active when they were logged; JSON is
production's default format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.trace import format_span_id, format_trace_id

from collabcache_shared.telemetry.logs import make_handler
from collabcache_shared.telemetry.settings import LogFormat, TelemetrySettings
from collabcache_shared.telemetry.tracing import make_tracer_provider


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ENVIRONMENT", "LOG_FORMAT", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def logged(environment: pytest.MonkeyPatch) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of the test's own, writing through the services' handler into a buffer."""
    environment.setenv("ENVIRONMENT", "production")
    buffer = io.StringIO()
    logger = logging.getLogger("collabcache.test.logs")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = make_handler(TelemetrySettings(), "collabcache-test", buffer)
    logger.addHandler(handler)
    yield logger, buffer
    logger.removeHandler(handler)


def test_production_logs_json_and_elsewhere_text(environment: pytest.MonkeyPatch) -> None:
    assert TelemetrySettings().resolved_log_format is LogFormat.TEXT
    environment.setenv("ENVIRONMENT", "production")
    assert TelemetrySettings().resolved_log_format is LogFormat.JSON
    environment.setenv("LOG_FORMAT", "text")
    assert TelemetrySettings().resolved_log_format is LogFormat.TEXT
    environment.setenv("LOG_LEVEL", "warning")
    assert TelemetrySettings().log_level == "WARNING"


def test_a_json_line_carries_the_active_span_ids(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = logged
    provider = make_tracer_provider("collabcache-test", "test", "test")
    tracer = provider.get_tracer(__name__)
    logger.info("before any span")
    with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner") as inner:
        logger.info("inside %s", "inner")
    logger.warning("after")
    provider.shutdown()

    before, inside, after = (json.loads(line) for line in buffer.getvalue().splitlines())
    context = inner.get_span_context()
    assert inside["message"] == "inside inner"
    assert inside["trace_id"] == format_trace_id(context.trace_id)
    assert inside["span_id"] == format_span_id(context.span_id)
    assert (inside["level"], inside["logger"], inside["service"]) == (
        "INFO",
        "collabcache.test.logs",
        "collabcache-test",
    )
    assert "time" in inside
    assert "trace_id" not in before and "trace_id" not in after
    assert after["level"] == "WARNING"


def test_a_text_line_carries_them_too(environment: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    handler = make_handler(TelemetrySettings(), "collabcache-test", buffer)
    provider = make_tracer_provider("collabcache-test", "test", "test")
    with provider.get_tracer(__name__).start_as_current_span("span") as span:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        handler.handle(record)
    provider.shutdown()
    line = buffer.getvalue().strip()
    trace_id = format_trace_id(span.get_span_context().trace_id)
    assert line.endswith(
        f"hello trace_id={trace_id} span_id={format_span_id(span.get_span_context().span_id)}"
    )
