"""Integration fixtures: a fresh migrated database per run, the app, a client, a data builder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from collabcache_api.main import create_app
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.cache.store import AnyRedis, EntryStore
from collabcache_shared.settings import ApiSettings, CacheSettings, RedisSettings
from tests.databases import migrated_database
from tests.integration.builders import Builder, Scene
from tests.integration.statements import StatementCounter, counting


@pytest.fixture(scope="session")
def database_url(servers: dict[str, str], run_id: str) -> Iterator[str]:
    """A database created for this run, migrated to head, dropped at the end."""
    with migrated_database(servers["postgres"], f"cc_test_{run_id}") as url:
        yield url


@pytest.fixture(scope="session")
def api_settings(database_url: str) -> ApiSettings:
    return ApiSettings(environment="test", database_url=database_url)


@pytest.fixture(scope="session")
def redis_settings(servers: dict[str, str], run_id: str) -> RedisSettings:
    return RedisSettings(url=servers["redis"], key_prefix=f"cctest:{run_id}")


@pytest.fixture(scope="session")
def app_keyspace(redis_settings: RedisSettings) -> KeySpace:
    """The key space the session's app writes to (the run's prefix)."""
    return KeySpace(prefix=redis_settings.key_prefix)


@pytest.fixture
def settings_under(servers: dict[str, str], prefix: str) -> RedisSettings:
    """Redis settings of a service run under the test's own prefix."""
    return RedisSettings(url=servers["redis"], key_prefix=prefix)


@pytest.fixture
async def redis(servers: dict[str, str]) -> AsyncIterator[Redis]:
    """A plain client on the run's Redis (responses not decoded)."""
    client = Redis.from_url(servers["redis"])
    yield client
    await client.aclose()


@pytest.fixture
def cache(redis: AnyRedis, keyspace: KeySpace) -> CacheManager:
    """A cache manager on `redis`, under the test's own key space; an entry served stale is
    refreshed at once (the spacing is tested in cache/test_cluster.py)."""
    return CacheManager(EntryStore(redis, keyspace), CacheSettings(stale_refresh_seconds=0))


@pytest.fixture(scope="session")
async def app(api_settings: ApiSettings, redis_settings: RedisSettings) -> AsyncIterator[object]:
    """The API; an entry served stale is refreshed at once (the spacing between refreshes
    has tests of its own: cache_http/test_stale_analytics.py)."""
    application = create_app(api_settings, redis_settings, CacheSettings(stale_refresh_seconds=0))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture(scope="module")
async def uncached_client(
    api_settings: ApiSettings, redis_settings: RedisSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with `CACHE_ENABLED=false`: the database path, no cached standing guards a read."""
    application = create_app(api_settings, redis_settings, CacheSettings(enabled=False))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
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


@pytest.fixture
async def scene(build: Builder) -> Scene:
    """One organization with its cast (`Builder.scene`), new for the test."""
    return await build.scene()


@pytest.fixture
def sql(app: Any) -> Iterator[StatementCounter]:
    """Every SQL statement the app under test sends during the test."""
    yield from counting(app)
