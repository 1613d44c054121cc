"""With no endpoint configured, tracing builds nothing: no provider, no instrumentation, no
middleware, no global provider; with one, it builds all of it (the control). An exporter that
cannot reach its endpoint logs an error, which is what "nothing complains" looks for."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from collabcache_api.bootstrap import build_container
from collabcache_api.main import create_app
from collabcache_api.outbox.relay import OutboxRelay
from collabcache_shared.settings import ApiSettings, CacheSettings, OutboxSettings, RedisSettings
from collabcache_shared.telemetry.settings import TelemetrySettings
from collabcache_shared.telemetry.tracing import build_tracer_provider, make_tracer_provider

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
)
INSTRUMENTED = "_is_instrumented_by_opentelemetry"  # what the instrumentors mark
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens


@pytest.fixture
def no_otel(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _provider(env: pytest.MonkeyPatch, **variables: str) -> TracerProvider | None:
    for name, value in variables.items():
        env.setenv(name, value)
    return build_tracer_provider(TelemetrySettings(), service_name="collabcache-test", version="1")


def test_no_endpoint_no_provider(no_otel: pytest.MonkeyPatch) -> None:
    assert _provider(no_otel) is None
    assert _provider(no_otel, OTEL_EXPORTER_OTLP_ENDPOINT="  ") is None
    assert (
        _provider(no_otel, OTEL_EXPORTER_OTLP_ENDPOINT=UNREACHABLE, OTEL_SDK_DISABLED="true")
        is None
    )


def test_an_endpoint_builds_a_provider_for_the_service(no_otel: pytest.MonkeyPatch) -> None:
    assert TelemetrySettings().traces_endpoint is None
    no_otel.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", UNREACHABLE + "/")
    assert TelemetrySettings().traces_endpoint == UNREACHABLE + "/v1/traces"
    no_otel.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/traces")
    assert TelemetrySettings().traces_endpoint == "http://collector:4318/traces"
    provider = _provider(no_otel, OTEL_SERVICE_NAME="renamed", ENVIRONMENT="production")
    assert provider is not None
    attributes = provider.resource.attributes
    assert attributes["service.name"] == "renamed"
    assert attributes["service.version"] == "1"
    assert attributes["deployment.environment"] == "production"
    provider.shutdown()


def _relay_middlewares(relay: OutboxRelay | None) -> list[object]:
    assert relay is not None
    return list(relay.publisher.broker.middlewares)


async def test_the_api_without_an_endpoint_instruments_nothing(
    no_otel: pytest.MonkeyPatch, tracing_database_url: str, servers: dict[str, str]
) -> None:
    settings = ApiSettings(environment="test", database_url=tracing_database_url)
    redis_settings = RedisSettings(url=servers["redis"])
    app = create_app(settings, redis_settings)
    assert not getattr(app, INSTRUMENTED, False)
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    container = build_container(settings, redis_settings, CacheSettings(), OutboxSettings())
    try:
        assert container.tracer_provider is None
        assert _relay_middlewares(container.outbox_relay) == []
        assert not getattr(container.redis, INSTRUMENTED, False)
    finally:
        await container.redis.aclose()
        await container.engine.dispose()

    # The control: given a provider, the same code instruments all of it.
    provider = make_tracer_provider("collabcache-api", "test", "test")
    traced = create_app(settings, redis_settings, tracer_provider=provider)
    assert getattr(traced, INSTRUMENTED, False)
    container = build_container(
        settings, redis_settings, CacheSettings(), OutboxSettings(), provider
    )
    try:
        assert len(_relay_middlewares(container.outbox_relay)) == 1
        assert getattr(container.redis, INSTRUMENTED, False)
    finally:
        await container.redis.aclose()
        await container.engine.dispose()
        provider.shutdown()


def test_an_unreachable_endpoint_is_an_error_in_the_logs(
    no_otel: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What the process test's "no exporter error" would see, were an exporter built."""
    provider = _provider(
        no_otel, OTEL_EXPORTER_OTLP_ENDPOINT=UNREACHABLE, OTEL_EXPORTER_OTLP_TIMEOUT="1"
    )
    assert provider is not None
    with caplog.at_level(logging.WARNING, logger="opentelemetry"):
        with provider.get_tracer(__name__).start_as_current_span("lost"):
            pass
        provider.force_flush()
        provider.shutdown()
    errors = [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
    assert errors, caplog.text
    assert all("export" in r.getMessage().lower() for r in errors), caplog.text
