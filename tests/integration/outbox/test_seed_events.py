"""The demo/bench seed fills the tables without filling the outbox, whether or not the loading
role may disable the change triggers, and leaves the triggers working."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
import pytest

from collabcache_api.migrate import upgrade
from collabcache_api.seed import generate
from collabcache_api.seed_dataset import SeedConfig
from collabcache_api.seed_load import load

SMALL = SeedConfig(organizations=4, users=40, teams=5, studies=12, comments=150, seed=7)


async def _run_in(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def scratch_database(servers: dict[str, str], run_id: str) -> AsyncIterator[str]:
    admin = servers["postgres"].replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"cc_test_{run_id}_seed_{uuid.uuid4().hex[:6]}"
    await _run_in(admin, f'CREATE DATABASE "{name}"')
    url = urlsplit(admin)._replace(path=f"/{name}").geturl()
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await _run_in(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["owner", "non_owner"])
async def loader_url(
    request: pytest.FixtureRequest, scratch_database: str, run_id: str
) -> AsyncIterator[str]:
    """The owner of the tables, or a role that may write them but not ALTER them."""
    if request.param == "owner":
        yield scratch_database
        return
    role = f"cc_test_{run_id}_loader"
    await _run_in(scratch_database, f'CREATE ROLE "{role}" LOGIN')
    await _run_in(
        scratch_database,
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}";'
        f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
    )
    url = urlsplit(scratch_database)
    try:
        yield url._replace(netloc=f"{role}@{url.hostname}:{url.port}").geturl()
    finally:
        await _run_in(scratch_database, f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')


async def _state(url: str) -> tuple[int, int, int]:
    """(outbox rows, organizations, disabled change triggers)."""
    conn = await asyncpg.connect(url)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM outbox"),
            await conn.fetchval("SELECT count(*) FROM organizations"),
            await conn.fetchval(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'"
            ),
        )
    finally:
        await conn.close()


async def _a_change_still_emits(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO organizations (id, name) VALUES ($1, 'after the seed')", uuid.uuid4()
        )
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        await conn.close()


async def test_the_seed_produces_no_events_and_leaves_the_triggers_on(
    loader_url: str, scratch_database: str
) -> None:
    result = await load(loader_url, lambda: generate(SMALL, datetime.now(UTC)))
    assert result.counts["comments"] == 150
    assert await _state(scratch_database) == (0, 4, 0)
    await _a_change_still_emits(scratch_database)
