"""The security headers (README, "Security") on every response of the metrics service and the
invalidator: the dashboard and its files, data, probes, refusals and errors alike."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from collabcache_invalidator import main as invalidator_main
from collabcache_metrics import main as metrics_main
from collabcache_metrics.bootstrap import build
from collabcache_shared.settings import MetricsSettings, RedisSettings

# Nothing listens on port 1: reads of the aggregates fail at once (503), nothing waits.
UNREACHABLE_REDIS = RedisSettings(
    url="redis://127.0.0.1:1/0", socket_connect_timeout=0.05, retry_attempts=0
)
EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


async def request(app: Any, path: str, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        return await client.request(method, path)


def security_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers.get(name, "") for name in EXPECTED}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/static/js/dashboard.js", 200),
        ("HEAD", "/static/dashboard.css", 200),
        ("GET", "/static/nope.js", 404),
        ("POST", "/static/dashboard.css", 405),
        ("GET", "/health", 200),
        ("GET", "/stats", 503),
        ("GET", "/report?window=2h", 422),
        ("GET", "/metrics", 200),
        ("GET", "/nope", 404),
    ],
)
async def test_every_metrics_response_carries_them(method: str, path: str, status: int) -> None:
    response = await request(metrics_main.create_app(UNREACHABLE_REDIS), path, method)

    assert response.status_code == status
    assert security_headers(response) == EXPECTED


async def test_the_metrics_token_refusal_carries_them() -> None:
    settings = MetricsSettings(token=SecretStr("s3cret-token"))
    app = metrics_main.app_of(build(UNREACHABLE_REDIS, settings))

    for path in ("/stats", "/metrics", "/nope"):
        response = await request(app, path)
        assert response.status_code == 401, path
        assert security_headers(response) == EXPECTED, path


@pytest.mark.parametrize(("path", "status"), [("/health", 200), ("/metrics", 200), ("/x", 404)])
async def test_every_invalidator_response_carries_them(path: str, status: int) -> None:
    response = await request(invalidator_main.create_app(UNREACHABLE_REDIS), path)

    assert response.status_code == status
    assert security_headers(response) == EXPECTED
