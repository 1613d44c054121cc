"""The invalidator and metrics skeletons: liveness, readiness, settings, no I/O at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker

from collabcache_invalidator import main as invalidator_main
from collabcache_metrics import main as metrics_main
from collabcache_shared.settings import (
    Environment,
    InvalidatorSettings,
    MetricsSettings,
    RedisSettings,
)

# Nothing listens on port 1: the broker can never connect.
UNREACHABLE_REDIS = RedisSettings(url="redis://127.0.0.1:1/0")
FACTORIES = pytest.mark.parametrize(
    "create_app",
    [invalidator_main.create_app, metrics_main.create_app],
    ids=["invalidator", "metrics"],
)


async def get(app: Any, path: str, method: str = "GET") -> httpx.Response:
    async with app.start_lifespan_context():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            return await client.request(method, path)


@FACTORIES
async def test_health_answers_even_when_redis_is_unreachable(
    create_app: Callable[..., Any],
) -> None:
    response = await get(create_app(UNREACHABLE_REDIS), "/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@FACTORIES
async def test_ready_is_503_while_the_broker_cannot_reach_redis(
    create_app: Callable[..., Any],
) -> None:
    response = await get(create_app(UNREACHABLE_REDIS), "/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


@FACTORIES
async def test_unknown_paths_and_methods_are_client_errors(create_app: Callable[..., Any]) -> None:
    app = create_app(UNREACHABLE_REDIS)

    assert (await get(app, "/nope")).status_code == 404
    assert (await get(app, "/health", method="POST")).status_code == 405


@pytest.mark.parametrize("module", [invalidator_main, metrics_main], ids=["invalidator", "metrics"])
def test_importing_builds_no_broker_and_the_factory_reads_redis_settings(
    module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not [v for v in vars(module).values() if isinstance(v, AsgiFastStream | RedisBroker)]
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/3")

    (broker,) = module.create_app().brokers

    assert broker.config.broker_config.connection._options["db"] == 3
    assert broker._connection is None  # nothing connected before the lifespan starts


def test_worker_settings_have_their_own_prefix_and_default_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (InvalidatorSettings().http_port, MetricsSettings().http_port) == (8001, 8002)
    monkeypatch.setenv("INVALIDATOR_HTTP_PORT", "9101")
    monkeypatch.setenv("METRICS_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("HTTP_PORT", "1")  # unprefixed: read by neither

    assert (InvalidatorSettings().http_port, MetricsSettings().http_port) == (9101, 8002)
    assert MetricsSettings().http_host == "0.0.0.0"


def test_worker_settings_read_the_unprefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("INVALIDATOR_ENVIRONMENT", "test")  # not how the environment is named

    assert InvalidatorSettings().environment is Environment.PRODUCTION
    assert MetricsSettings().environment is Environment.PRODUCTION
    assert InvalidatorSettings(environment="test").environment is Environment.TEST
