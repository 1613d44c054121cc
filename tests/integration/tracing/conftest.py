"""The tracing tests run against a migrated database of their own (the run's shared database has
the session app's relay running, which would publish these tests' events untraced) and a key
prefix per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

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
