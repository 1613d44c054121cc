"""The pipeline tests run against a migrated database of their own.

The run's shared database has the session `app`'s outbox relay running. Relays take turns
publishing (a transaction-scoped advisory lock per round), so a second relay on that database
would receive only some of a test's events, and publish the others of the run under its own
prefix. Here, one relay at a time runs: each test starts its pipeline and stops it. Each test
also has a key prefix of its own (its stream, consumer group and cache entries).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from collabcache_api.main import create_app
from collabcache_invalidator.bootstrap import build
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.settings import (
    ApiSettings,
    CacheSettings,
    InvalidatorSettings,
    OutboxSettings,
    RedisSettings,
)
from tests.databases import migrated_database
from tests.integration.builders import Builder
from tests.integration.pipeline.stack import Pipeline

# The relay retries a failed publish within 0.2 s (not 2 s); its poll is only a safety net.
OUTBOX = OutboxSettings(poll_interval_seconds=0.5, retry_backoff_max_seconds=0.2)
INVALIDATOR = InvalidatorSettings(claim_idle_ms=1000, claim_interval_seconds=0.2)

MakePipeline = Callable[..., Awaitable[Pipeline]]


@pytest.fixture(scope="session")
def pipeline_database_url(servers: dict[str, str], run_id: str) -> Iterator[str]:
    with migrated_database(servers["postgres"], f"cc_test_{run_id}_pipeline") as url:
        yield url


@pytest.fixture(scope="session")
async def pipeline_db(pipeline_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(pipeline_database_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def make_pipeline(
    pipeline_database_url: str, pipeline_db: asyncpg.Pool, servers: dict[str, str], prefix: str
) -> AsyncIterator[MakePipeline]:
    """`await make_pipeline(invalidator=..., redis_url=...)`: the API app with its relay on the
    pipeline database, an invalidator on the same Redis and prefix (started or not); all of it
    is stopped after the test (and the prefix's keys removed: `prefix`)."""
    api_settings = ApiSettings(environment="test", database_url=pipeline_database_url)
    async with AsyncExitStack() as stack:

        async def make(*, invalidator: bool = True, redis_url: str | None = None) -> Pipeline:
            redis_settings = RedisSettings(url=redis_url or servers["redis"], key_prefix=prefix)
            # Analytics served stale are refreshed at once: what is timed here is the pipeline.
            cache = CacheSettings(stale_refresh_seconds=0)
            app = create_app(api_settings, redis_settings, cache, OUTBOX)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
            )
            # Retries on a dropped connection: a test may kill the server and start it again.
            redis = Redis.from_url(
                redis_settings.dsn,
                socket_timeout=5,
                retry=Retry(ExponentialBackoff(cap=0.5), 5),
                retry_on_error=[RedisConnectionError],
            )
            stack.push_async_callback(redis.aclose)
            pipeline = Pipeline(
                app=app,
                client=client,
                db=pipeline_db,
                build=Builder(pipeline_db, api_settings),
                redis=redis,
                keyspace=KeySpace(prefix=prefix),
                invalidator=build(redis_settings, INVALIDATOR, consumer="pipeline-test"),
                stack=stack,
            )
            if invalidator:
                await pipeline.start_invalidator()
            return pipeline

        yield make
