"""A small seeded database of the module's own (a warm covers every organization: the run's
shared database grows with every test), and apps on it with the cache on and off."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from collabcache_api.main import create_app
from collabcache_api.seed import generate
from collabcache_api.seed_dataset import SeedConfig
from collabcache_api.seed_load import load
from collabcache_shared.settings import ApiSettings, CacheSettings, RedisSettings
from tests.databases import migrated_database, plain_dsn

SMALL = SeedConfig.scaled(1.0, 11, organizations=4, users=40, teams=5, studies=12, comments=150)


@pytest.fixture(scope="module")
def warm_db(servers: dict[str, str], run_id: str) -> Iterator[str]:
    with migrated_database(servers["postgres"], f"cc_warm_{run_id}") as url:
        asyncio.run(load(plain_dsn(url), lambda: generate(SMALL, datetime.now(UTC))))
        yield url


@pytest.fixture(scope="module")
def warm_settings(warm_db: str) -> ApiSettings:
    return ApiSettings(environment="test", database_url=warm_db)


@pytest.fixture
def warm_redis(servers: dict[str, str]) -> RedisSettings:
    """The test's own key prefix: each test starts with a cold cache."""
    return RedisSettings(url=servers["redis"], key_prefix=f"ccwarm:{uuid.uuid4().hex[:12]}")


async def _serving(app: FastAPI) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client


@pytest.fixture
async def warm_app(
    warm_settings: ApiSettings, warm_redis: RedisSettings
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async for served in _serving(create_app(warm_settings, warm_redis)):
        yield served


@pytest.fixture
async def cold_client(
    warm_settings: ApiSettings, warm_redis: RedisSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """The same database answered with the cache off: the bytes a warmed entry must hold."""
    app = create_app(warm_settings, warm_redis, CacheSettings(enabled=False))
    async for _, client in _serving(app):
        yield client
