"""The API's entrypoint: `create_app()` for ASGI servers, `run()` for the console script."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import text

from collabcache_shared.security_headers import SecurityHeaders
from collabcache_shared.settings import ApiSettings, CacheSettings, OutboxSettings, RedisSettings
from collabcache_shared.telemetry import tracing
from collabcache_shared.telemetry.logs import configure_logging
from collabcache_shared.telemetry.settings import TelemetrySettings

from .admin.endpoints import router as admin_router
from .analytics.endpoints import router as analytics_router
from .bootstrap import instrument_app, make_lifespan
from .caching.hit_path import Frame, HitPath, cors_around_hits, serve_hits_first
from .comments.endpoints import router as comments_router
from .deps import ContainerDep
from .errors import install_error_handlers
from .guards import BodyLimit, HostCheck
from .organizations.endpoints import router as organizations_router
from .studies.endpoints import router as studies_router
from .teams.endpoints import router as teams_router
from .users.endpoints import router as users_router
from .warming.on_start import warm_on_start

# Headers the browser may read from cross-origin responses (cache state and revalidation).
EXPOSED_HEADERS = ["ETag", "X-Cache", "Age", "Cache-Control", "X-Request-ID"]
SERVICE_NAME = "collabcache-api"
ROUTERS = (
    users_router,
    organizations_router,
    teams_router,
    analytics_router,
    studies_router,
    comments_router,
    admin_router,
)


def service_version() -> str:
    try:
        return version(SERVICE_NAME)
    except PackageNotFoundError:
        return "0.0.0"


def operation_id(route: APIRoute) -> str:
    """`<tag>-<handler>` (e.g. `organizations-list_members`): what a generated client's method
    is called (README, "Calling the API from a frontend"), stable while the handler's name is."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def cors_options(settings: ApiSettings) -> dict[str, Any]:
    return {
        "allow_origins": settings.allowed_origins,
        "allow_credentials": False,
        "allow_methods": ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type", "If-None-Match", "Cache-Control"],
        "expose_headers": EXPOSED_HEADERS,
        "max_age": 600,
    }


def create_app(
    settings: ApiSettings | None = None,
    redis_settings: RedisSettings | None = None,
    cache_settings: CacheSettings | None = None,
    outbox_settings: OutboxSettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """`tracer_provider`: the spans' destination (a test's); without one, the environment's
    (`OTEL_EXPORTER_OTLP_ENDPOINT`), made the global provider, or none: tracing off."""
    settings = settings or ApiSettings()
    redis_settings = redis_settings or RedisSettings()
    cache_settings = cache_settings or CacheSettings()
    owned = tracer_provider is None
    if tracer_provider is None:
        tracer_provider = tracing.from_environment(SERVICE_NAME, service_version())
    lifespan = make_lifespan(
        settings,
        redis_settings,
        cache_settings,
        outbox_settings,
        tracer_provider,
        owns_tracer_provider=owned,
        after_start=warm_on_start if settings.api_warm_on_start else None,
    )
    # FastAPIOffline: /docs and /redoc load their scripts from this package, never a CDN.
    # redirect_slashes=False: no redirect built from the request's Host (README, "Security").
    app = FastAPIOffline(
        title="collabcache API",
        version="0.1.0",
        description="Research collaboration API whose reads come from Redis and never go stale.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        redirect_slashes=False,
    )
    cors = cors_options(settings)
    app.add_middleware(CORSMiddleware, **cors)
    # Added last: outermost. Security headers on every answer, the guards' own included.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostCheck, hosts=settings.served_hosts)
    app.add_middleware(SecurityHeaders)
    if cache_settings.enabled and cache_settings.hit_path:
        # Around all of it (README, "The hit path"): a hit pays for none of the layers. With
        # tracing on, just inside the tracing middleware, so that every hit has its span.
        frame = Frame(HostCheck(app.router, settings.served_hosts), cors_around_hits(**cors))
        routes = [r for router in ROUTERS for r in router.routes]
        if tracer_provider is None:
            serve_hits_first(app, routes, frame)
        else:  # the instrumentation must find Starlette's stack as Starlette builds it
            app.add_middleware(HitPath, routes=routes, frame=frame)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/health", tags=["ops"], include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], include_in_schema=False)
    async def ready(container: ContainerDep) -> dict[str, str]:
        async with container.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "ready"}

    instrument_app(app, tracer_provider)
    return app


def run() -> None:
    from .server import serve, server_config

    settings = ApiSettings()
    configure_logging(TelemetrySettings(), SERVICE_NAME)
    factory = "collabcache_api.main:create_app"
    serve(server_config(settings, factory, factory=True, workers=settings.api_workers))
