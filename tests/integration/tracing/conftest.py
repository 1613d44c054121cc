"""The tracing tests run against a migrated database of their own (the run's shared database has
the session app's relay running, which would publish these tests' events untraced) and a key
prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.databases import migrated_database


@pytest.fixture(scope="session")
def tracing_database_url(servers: dict[str, str], run_id: str) -> Iterator[str]:
    with migrated_database(servers["postgres"], f"cc_test_{run_id}_tracing") as url:
        yield url


@pytest.fixture(scope="session")
async def tracing_db(tracing_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(tracing_database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def prefix(servers: dict[str, str], run_id: str) -> AsyncIterator[str]:
    """A key prefix of the test's own; its keys are removed afterwards."""
    value = f"cctest:{run_id}:trace:{uuid.uuid4().hex[:8]}"
    yield value
    client = Redis.from_url(servers["redis"])
    try:
        keys = [key async for key in client.scan_iter(match=f"{value}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
