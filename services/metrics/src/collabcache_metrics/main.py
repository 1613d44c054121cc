"""The metrics service's entrypoint: `create_app()` for ASGI servers, `run()` for the CLI.

A FastStream application on Redis served over HTTP: `/health` answers while the process runs,
`/ready` only while the broker reaches Redis; `/stats` (the dashboard's JSON), `/history` (its
last ten minutes, drawn when the dashboard opens), `/report` (the cache performance report,
`?window=1m|5m|1h`), `/metrics` (Prometheus text format) and the dashboard itself at `/` and
`/static/...`. The stream worker and the aggregates are wired in `bootstrap`; the application is
the kit's (`collabcache_shared.streams.app`).
With `METRICS_TOKEN` set, all but `/health`, `/ready` and the dashboard's files ask for a bearer
token (`auth`); every response carries the security headers (README, "Security").
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, Request, get
from faststream.asgi.handlers import GetHandler
from faststream.asgi.response import JSONResponse
from faststream.asgi.types import Receive, Scope, Send
from faststream.specification import AsyncAPI
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from collabcache_shared.metrics.reader import WINDOWS, Snapshot
from collabcache_shared.settings import MetricsSettings, RedisSettings
from collabcache_shared.streams.app import WorkerApp
from collabcache_shared.telemetry import tracing
from collabcache_shared.telemetry.logs import configure_logging
from collabcache_shared.telemetry.settings import TelemetrySettings

from . import __version__
from .auth import BearerToken
from .bootstrap import MetricsService, build
from .stats import history_document, performance_report, stats_document
from .web import StaticFiles

DEFAULT_REPORT_WINDOW = "5m"
NO_STORE = {"Cache-Control": "no-store"}
SERVICE_NAME = "collabcache-metrics"
log = logging.getLogger("collabcache_metrics")


def _unavailable() -> AsgiResponse:
    detail = "the aggregates cannot be read from Redis, try again shortly"
    return JSONResponse({"detail": detail}, 503, {"Retry-After": "1", **NO_STORE})


def stats_route(service: MetricsService) -> GetHandler:
    @get(include_in_schema=False)
    async def stats() -> AsgiResponse:
        try:
            snapshot = await service.snapshots.get()
        except Exception:
            log.warning("reading the aggregates failed", exc_info=True)
            return _unavailable()
        return JSONResponse(stats_document(snapshot), 200, NO_STORE)

    return stats


def history_route(service: MetricsService) -> GetHandler:
    """Rendered from the snapshot /stats shares (whichever route asks first reads it, in one
    round trip), once per snapshot."""
    rendered: list[tuple[weakref.ref[Snapshot], dict[str, Any]]] = []  # the latest document

    @get(include_in_schema=False)
    async def history() -> AsgiResponse:
        try:
            snapshot = await service.snapshots.get()
        except Exception:
            log.warning("reading the aggregates failed", exc_info=True)
            return _unavailable()
        if not rendered or rendered[0][0]() is not snapshot:
            rendered[:] = [(weakref.ref(snapshot), history_document(snapshot))]
        return JSONResponse(rendered[0][1], 200, NO_STORE)

    return history


def report_route(service: MetricsService) -> GetHandler:
    @get(include_in_schema=False)
    async def report(request: Request) -> AsgiResponse:
        windows = request.query_params.get("window") or [DEFAULT_REPORT_WINDOW]
        if len(windows) != 1 or windows[0] not in WINDOWS:
            detail = f"window must be one of {', '.join(WINDOWS)}"
            return JSONResponse({"detail": detail}, 422, NO_STORE)
        try:
            snapshot = await service.snapshots.get()
        except Exception:
            log.warning("reading the aggregates failed", exc_info=True)
            return _unavailable()
        return JSONResponse(performance_report(snapshot, windows[0]), 200, NO_STORE)

    return report


def metrics_route(service: MetricsService) -> GetHandler:
    """The aggregates are read on each scrape (at most once per snapshot cache period)."""

    @get(include_in_schema=False)
    async def metrics() -> AsgiResponse:
        try:
            await service.snapshots.get()
        except Exception:
            log.warning("reading the aggregates failed", exc_info=True)
        body = generate_latest(service.registry)
        return AsgiResponse(body, 200, {"Content-Type": CONTENT_TYPE_LATEST})

    return metrics


def specification() -> AsyncAPI:
    return AsyncAPI(
        title="collabcache metrics",
        version=__version__,
        description="Aggregates cache lookups and invalidations into rolling statistics.",
    )


class MetricsApp(WorkerApp):
    """The worker application, its exact-path routes followed by the dashboard's files, behind
    the optional bearer token."""

    def __init__(self, *args: Any, static: StaticFiles, token: BearerToken, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.static = static
        self.token = token

    async def respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.token.opens(scope):
            await self.token.refuse(scope, receive, send)
            return
        await super().respond(scope, receive, send)

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.static.serves(scope["path"]):
            await self.static(scope, receive, send)
            return
        await super().not_found(scope, receive, send)


def app_of(
    service: MetricsService,
    static: StaticFiles | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
) -> MetricsApp:
    """The application around a wired service. A `tracer_provider` given here is the app's:
    shut down (its last spans sent) once everything else stopped."""
    static = static or StaticFiles()
    return MetricsApp.around(
        service.broker,
        service.worker,
        routes=[
            ("/stats", stats_route(service)),
            ("/history", history_route(service)),
            ("/report", report_route(service)),
            ("/metrics", metrics_route(service)),
            ("/", static.index),
        ],
        specification=specification(),
        close=service.close,
        tracer_provider=tracer_provider,
        static=static,
        token=BearerToken(service.settings.token),
    )


def create_app(
    redis_settings: RedisSettings | None = None, settings: MetricsSettings | None = None
) -> AsgiFastStream:
    """Build the application; nothing connects until the ASGI lifespan starts it. Tracing is
    the environment's (`OTEL_EXPORTER_OTLP_ENDPOINT`; none: off)."""
    provider = tracing.from_environment(SERVICE_NAME, __version__)
    return app_of(
        build(redis_settings, settings, tracer_provider=provider), tracer_provider=provider
    )


def run() -> None:
    import uvicorn

    settings = MetricsSettings()
    configure_logging(TelemetrySettings(), SERVICE_NAME)
    uvicorn.run(
        "collabcache_metrics.main:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        access_log=settings.access_log,
        log_config=None,  # uvicorn's loggers propagate to the root handler configured above
    )
