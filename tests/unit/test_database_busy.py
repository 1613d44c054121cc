"""A database whose connection pool stays exhausted answers a clear 503, never a 500."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from collabcache_api.errors import install_error_handlers


async def test_an_exhausted_connection_pool_is_a_503_with_retry_after() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise PoolTimeoutError("QueuePool limit of size 10 overflow 10 reached")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/busy")

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert "database" in response.json()["detail"]
