"""The metrics service's optional bearer token (README, "Security"), on the run's real Redis:
with METRICS_TOKEN set, its data needs `Authorization: Bearer <token>` while the probes and
the dashboard's files stay open; without it, everything is open as before."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from collabcache_metrics.bootstrap import build
from collabcache_shared.settings import RedisSettings
from tests.integration.metrics.support import FAST, running

TOKEN = "metrics-token-0123456789abcdef"
DATA = ("/stats", "/history", "/report?window=1m", "/metrics")


async def request(app: Any, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        return await client.get(path, headers=headers)


@pytest.fixture
async def guarded(settings_under: RedisSettings) -> AsyncIterator[Any]:
    service = build(settings_under, FAST.model_copy(update={"token": SecretStr(TOKEN)}))
    async with running(service) as app:
        yield app


async def test_with_a_token_the_data_needs_it(
    guarded: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for path in DATA:
        missing = await request(guarded, path)
        assert missing.status_code == 401, path
        assert missing.headers["www-authenticate"] == "Bearer", path
        assert "METRICS_TOKEN" in missing.json()["detail"]
        for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN):
            refused = await request(guarded, path, authorization=wrong)
            assert refused.status_code == 401, (path, wrong)
            assert refused.headers["www-authenticate"].startswith("Bearer"), path
        allowed = await request(guarded, path, authorization=f"Bearer {TOKEN}")
        assert allowed.status_code == 200, path
    stats = await request(guarded, "/stats", authorization=f"bearer {TOKEN}")
    assert "windows" in stats.json()  # the scheme is case-insensitive (RFC 7235)
    # Anything not listed as open is closed, an unknown path included.
    assert (await request(guarded, "/nope")).status_code == 401
    assert TOKEN not in caplog.text


async def test_with_a_token_the_probes_and_the_dashboard_stay_open(guarded: Any) -> None:
    assert (await request(guarded, "/health")).json() == {"status": "ok"}
    assert (await request(guarded, "/ready")).status_code == 200
    page = await request(guarded, "/")
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert (await request(guarded, "/static/js/auth.js")).status_code == 200
    assert (await request(guarded, "/static/nope.js")).status_code == 404


@pytest.mark.parametrize("token", [None, ""], ids=["unset", "empty"])
async def test_without_a_token_everything_is_open(
    settings_under: RedisSettings, token: str | None
) -> None:
    """An empty METRICS_TOKEN (compose's `${METRICS_TOKEN:-}` default) is no token."""
    settings = FAST.model_copy(update={"token": None if token is None else SecretStr(token)})
    async with running(build(settings_under, settings)) as app:
        for path in (*DATA, "/health", "/ready", "/"):
            assert (await request(app, path)).status_code == 200, path
        assert (await request(app, "/stats", authorization="Bearer anything")).status_code == 200
        assert (await request(app, "/nope")).status_code == 404
