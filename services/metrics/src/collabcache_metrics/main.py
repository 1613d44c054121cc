"""The metrics service's entrypoint: `create_app()` for ASGI servers, `run()` for the CLI.

A FastStream application on Redis served over HTTP: `/health` answers while the process runs,
`/ready` only while the broker reaches Redis. The stream consumers are registered on `broker`.
"""

from __future__ import annotations

import logging

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.handlers import GetHandler
from faststream.asgi.response import JSONResponse
from faststream.redis import RedisBroker

from collabcache_shared.settings import MetricsSettings, RedisSettings

# How long `/ready` waits for Redis to answer PING before reporting 503.
READY_PING_TIMEOUT = 0.5


def liveness_route() -> GetHandler:
    @get(include_in_schema=False)
    async def health() -> AsgiResponse:
        return JSONResponse({"status": "ok"})

    return health


def readiness_route(broker: RedisBroker) -> GetHandler:
    @get(include_in_schema=False)
    async def ready() -> AsgiResponse:
        if await broker.ping(timeout=READY_PING_TIMEOUT):
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "detail": "redis unreachable"}, 503)

    return ready


def create_app(redis_settings: RedisSettings | None = None) -> AsgiFastStream:
    """Build the application; nothing connects until the ASGI lifespan starts it."""
    redis_settings = redis_settings or RedisSettings()
    broker = RedisBroker(redis_settings.dsn)
    return AsgiFastStream(
        broker,
        asgi_routes=[("/health", liveness_route()), ("/ready", readiness_route(broker))],
    )


def run() -> None:
    import uvicorn

    settings = MetricsSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        "collabcache_metrics.main:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
    )
