"""The invalidator and metrics services report ready once their broker reaches Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from collabcache_invalidator.main import create_app as create_invalidator
from collabcache_metrics.main import create_app as create_metrics
from collabcache_shared.settings import RedisSettings


@pytest.mark.parametrize("create_app", [create_invalidator, create_metrics], ids=["inv", "metrics"])
async def test_ready_once_the_broker_reaches_redis(
    create_app: Callable[[RedisSettings], Any], redis_settings: RedisSettings
) -> None:
    app = create_app(redis_settings)
    async with app.start_lifespan_context():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            ready = await client.get("/ready")
            health = await client.get("/health")

    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    assert health.status_code == 200
