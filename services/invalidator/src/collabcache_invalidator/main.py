"""The invalidator's entrypoint: `create_app()` for ASGI servers, `run()` for the console script.

The kit's worker application (`collabcache_shared.streams.app`) served over HTTP: `/health`
answers while the process runs, `/ready` only while the broker reaches Redis, `/metrics` in the
Prometheus text format. The stream worker is wired in `bootstrap`. Every response carries the
security headers (README, "Security").
"""

from __future__ import annotations

import asyncio
import logging

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.handlers import GetHandler
from faststream.specification import AsyncAPI
from opentelemetry.sdk.trace import TracerProvider

from collabcache_shared.settings import InvalidatorSettings, RedisSettings
from collabcache_shared.streams.app import WorkerApp
from collabcache_shared.telemetry import tracing
from collabcache_shared.telemetry.logs import configure_logging
from collabcache_shared.telemetry.settings import TelemetrySettings

from . import __version__
from .bootstrap import Invalidator, build
from .metrics import CONTENT_TYPE

# How long a scrape waits for the consumer group's state (then reports it unknown).
GROUP_STATE_TIMEOUT = 1.0
SERVICE_NAME = "collabcache-invalidator"
log = logging.getLogger("collabcache_invalidator")


def metrics_route(invalidator: Invalidator) -> GetHandler:
    """The consumer group's backlog is read on each scrape (one XINFO GROUPS)."""

    @get(include_in_schema=False)
    async def metrics() -> AsgiResponse:
        try:
            state = await asyncio.wait_for(invalidator.stream.group_state(), GROUP_STATE_TIMEOUT)
        except Exception:
            log.warning("reading the consumer group state failed", exc_info=True)
            state = None
        invalidator.metrics.observe_group(state)
        return AsgiResponse(invalidator.metrics.render(), 200, {"Content-Type": CONTENT_TYPE})

    return metrics


def specification() -> AsyncAPI:
    return AsyncAPI(
        title="collabcache invalidator",
        version=__version__,
        description="Consumes domain events and invalidates the cache entries they affect.",
    )


def app_of(invalidator: Invalidator, *, tracer_provider: TracerProvider | None = None) -> WorkerApp:
    """The application around a wired invalidator. A `tracer_provider` given here is the
    app's: shut down (its last spans sent) at the end."""
    return WorkerApp.around(
        invalidator.broker,
        invalidator.worker,
        routes=[("/metrics", metrics_route(invalidator))],
        specification=specification(),
        close=invalidator.close,
        tracer_provider=tracer_provider,
    )


def create_app(
    redis_settings: RedisSettings | None = None, settings: InvalidatorSettings | None = None
) -> AsgiFastStream:
    """Build the application; nothing connects until the ASGI lifespan starts it. Tracing is
    the environment's (`OTEL_EXPORTER_OTLP_ENDPOINT`; none: off)."""
    provider = tracing.from_environment(SERVICE_NAME, __version__)
    invalidator = build(redis_settings, settings, tracer_provider=provider)
    return app_of(invalidator, tracer_provider=provider)


def run() -> None:
    import uvicorn

    settings = InvalidatorSettings()
    configure_logging(TelemetrySettings(), SERVICE_NAME)
    uvicorn.run(
        "collabcache_invalidator.main:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        access_log=settings.access_log,
        log_config=None,  # uvicorn's loggers propagate to the root handler configured above
    )
