"""CORS for the frontend: allowed origins from settings, cache headers readable by the browser."""

from __future__ import annotations

import httpx

from tests.integration.builders import Builder


async def test_a_dev_origin_may_call_and_read_the_cache_headers(
    client: httpx.AsyncClient, build: Builder
) -> None:
    preflight = await client.options(
        "/api/organizations",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,if-none-match",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    s = await build.scene()
    response = await client.get(
        "/api/organizations", headers={**s.owner.headers, "Origin": "http://localhost:5173"}
    )
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "x-cache", "age"} <= exposed


async def test_an_unknown_origin_is_not_allowed(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/organizations",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
