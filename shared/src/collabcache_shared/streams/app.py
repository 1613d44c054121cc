"""A stream worker's application: FastStream's ASGI application around the dispatching broker,
serving `/health`, `/ready` and the service's own routes, every response with the security
headers (README, "Security").

Its lifespan runs the worker: the broker starts (its subscribers ready for batches), then the
worker reads and claims; at shutdown the worker stops and leaves its groups while the
subscribers still take batches, then the broker stops, then the service closes (its clients,
its tracer provider's last spans).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, Self

from faststream.asgi import AsgiFastStream
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from faststream.redis import RedisBroker
from faststream.specification import AsyncAPI
from opentelemetry.sdk.trace import TracerProvider

from ..security_headers import SecurityHeaders
from ..telemetry import tracing
from .health import liveness_route, readiness_route


class Runs(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class WorkerApp(AsgiFastStream):
    """An AsgiFastStream whose every response carries the security headers; a subclass
    changes what answers through `respond`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._secured = SecurityHeaders(self.respond)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._secured(scope, receive, send)

    async def respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    @classmethod
    def around(
        cls,
        broker: RedisBroker,
        worker: Runs,
        *,
        routes: Sequence[tuple[str, ASGIApp]],
        specification: AsyncAPI,
        close: Callable[[], Awaitable[None]],
        tracer_provider: TracerProvider | None = None,
        **options: Any,
    ) -> Self:
        """The application of a wired worker. A `tracer_provider` given here is the app's:
        shut down (its last spans sent) once everything else stopped."""

        async def closed() -> None:
            await close()
            if tracer_provider is not None:
                await asyncio.to_thread(tracing.shutdown, tracer_provider)

        return cls(
            broker,
            asgi_routes=[
                ("/health", liveness_route()),
                ("/ready", readiness_route(broker)),
                *routes,
            ],
            after_startup=[worker.start],
            on_shutdown=[worker.stop],
            after_shutdown=[closed],
            specification=specification,
            **options,
        )
