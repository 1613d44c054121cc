"""The invalidator's entrypoint: `create_app()` for ASGI servers, `run()` for the console script.

A FastStream application on Redis served over HTTP: `/health` answers while the process runs,
`/ready` only while the broker reaches Redis, `/metrics` in the Prometheus text format. The
stream consumer and the claim loop are wired in `bootstrap`.
"""

from __future__ import annotations

import asyncio
import logging

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.handlers import GetHandler
from faststream.specification import AsyncAPI

from collabcache_shared.settings import InvalidatorSettings, RedisSettings
from collabcache_shared.streams.health import liveness_route, readiness_route

from . import __version__
from .bootstrap import Invalidator, build
from .metrics import CONTENT_TYPE

# How long a scrape waits for the consumer group's state (then reports it unknown).
GROUP_STATE_TIMEOUT = 1.0
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


def app_of(invalidator: Invalidator) -> AsgiFastStream:
    """The application around a wired invalidator: the claim loop runs once the broker has
    started (Redis answered, the group exists) and stops before the broker does."""
    return AsgiFastStream(
        invalidator.broker,
        asgi_routes=[
            ("/health", liveness_route()),
            ("/ready", readiness_route(invalidator.broker)),
            ("/metrics", metrics_route(invalidator)),
        ],
        after_startup=[invalidator.start_claims],
        on_shutdown=[invalidator.stop_claims],
        after_shutdown=[invalidator.close],
        specification=specification(),
    )


def create_app(
    redis_settings: RedisSettings | None = None, settings: InvalidatorSettings | None = None
) -> AsgiFastStream:
    """Build the application; nothing connects until the ASGI lifespan starts it."""
    return app_of(build(redis_settings, settings))


def run() -> None:
    import uvicorn

    settings = InvalidatorSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        "collabcache_invalidator.main:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
    )
