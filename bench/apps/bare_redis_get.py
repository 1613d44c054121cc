"""The baseline of the throughput ceiling: a FastAPI app whose one route does a single Redis
GET of one key and returns its bytes as JSON, nothing else (no auth, no cache logic).

Its Redis client is the API's own (`make_redis` with `RedisSettings()` from the environment:
same pool, timeouts and parser), and `bench.ceiling` serves it with the API's uvicorn
settings. `BARE_KEY` names the key (holding the bytes of a real cached response).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from collabcache_shared.cache.client import make_redis
from collabcache_shared.settings import RedisSettings

KEY_VARIABLE = "BARE_KEY"


def create_app() -> FastAPI:
    key = os.environ[KEY_VARIABLE]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = make_redis(RedisSettings())
        yield
        await app.state.redis.aclose()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/get")
    async def get(request: Request) -> Response:
        body = await request.app.state.redis.get(key)
        return Response(body, media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
