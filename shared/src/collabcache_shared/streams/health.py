"""The HTTP health routes every stream worker serves (FastStream's AsgiFastStream)."""

from __future__ import annotations

from faststream.asgi import AsgiResponse, get
from faststream.asgi.handlers import GetHandler
from faststream.asgi.response import JSONResponse
from faststream.redis import RedisBroker

# How long `/ready` waits for Redis to answer PING before reporting 503.
READY_PING_TIMEOUT = 0.5


def liveness_route() -> GetHandler:
    """`/health`: 200 while the process runs."""

    @get(include_in_schema=False)
    async def health() -> AsgiResponse:
        return JSONResponse({"status": "ok"})

    return health


def readiness_route(broker: RedisBroker) -> GetHandler:
    """`/ready`: 200 while the broker reaches Redis, 503 otherwise."""

    @get(include_in_schema=False)
    async def ready() -> AsgiResponse:
        if await broker.ping(timeout=READY_PING_TIMEOUT):
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "detail": "redis unreachable"}, 503)

    return ready
