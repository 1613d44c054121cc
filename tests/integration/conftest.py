"""Integration fixtures: a fresh migrated database per run, the app, a client, a data builder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from collabcache_api.main import create_app
from collabcache_api.migrate import upgrade
from collabcache_shared.settings import ApiSettings, RedisSettings
from tests.integration.builders import Builder


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def database_url(servers: dict[str, str], run_id: str) -> Iterator[str]:
    """A database created for this run, migrated to head, dropped at the end."""
    import asyncio

    admin = _asyncpg_dsn(servers["postgres"])
    name = f"cc_test_{run_id}"

    async def admin_exec(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin_exec(f'CREATE DATABASE "{name}"'))
    url = urlsplit(admin)._replace(path=f"/{name}").geturl()
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def api_settings(database_url: str) -> ApiSettings:
    return ApiSettings(environment="test", database_url=database_url)


@pytest.fixture(scope="session")
def redis_settings(servers: dict[str, str], run_id: str) -> RedisSettings:
    return RedisSettings(url=servers["redis"], key_prefix=f"cctest:{run_id}")


@pytest.fixture(scope="session")
async def app(api_settings: ApiSettings, redis_settings: RedisSettings) -> AsyncIterator[object]:
    application = create_app(api_settings, redis_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def build(db: asyncpg.Pool, api_settings: ApiSettings) -> Builder:
    return Builder(db, api_settings)
