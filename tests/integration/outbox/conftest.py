"""Outbox relays against a database of their own and a stream under a key prefix per test.

The run's shared database has the app's relay running (the session `app` fixture starts it),
which would race the relays under test for the rows; these tests use a second migrated database
that only their own relays touch, emptied before each test.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from faststream.redis import BinaryMessageFormatV1
from faststream.redis.message import DATA_KEY
from redis.asyncio import Redis

from collabcache_api.outbox.relay import OutboxRelay, build_relay
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import DOMAIN_EVENTS_STREAM
from collabcache_shared.settings import DatabaseSettings, OutboxSettings, RedisSettings
from tests.databases import migrated_database
from tests.integration.streams import entries, newest


@dataclass(frozen=True)
class StreamMessage:
    entry_id: str
    body: bytes
    headers: dict[str, Any]

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


def decode_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> StreamMessage:
    """A stream entry, decoded the way a FastStream subscriber decodes it."""
    body, headers = BinaryMessageFormatV1.parse(fields[DATA_KEY.encode()])
    return StreamMessage(entry_id.decode(), body, headers)


async def read_stream(redis: Redis, stream: str) -> list[StreamMessage]:
    return [decode_entry(entry_id, fields) for entry_id, fields in await entries(redis, stream)]


async def read_newest(redis: Redis, stream: str, count: int) -> list[StreamMessage]:
    read = await newest(redis, stream, count)
    return [decode_entry(entry_id, fields) for entry_id, fields in read]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {check.__name__}")
        await asyncio.sleep(0.01)


@pytest.fixture(scope="session")
def outbox_database_url(servers: dict[str, str], run_id: str) -> Iterator[str]:
    with migrated_database(servers["postgres"], f"cc_test_{run_id}_outbox") as url:
        yield url


@pytest.fixture(scope="session")
async def outbox_db(outbox_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(outbox_database_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def empty_outbox(outbox_db: asyncpg.Pool) -> asyncpg.Pool:
    await outbox_db.execute("DELETE FROM outbox")
    return outbox_db


@pytest.fixture
def stream(keyspace: KeySpace) -> str:
    return keyspace.stream(DOMAIN_EVENTS_STREAM)


RelayFactory = Callable[..., OutboxRelay]


@pytest.fixture
async def make_relay(
    outbox_database_url: str, servers: dict[str, str], keyspace: KeySpace
) -> AsyncIterator[RelayFactory]:
    """Builds relays on the private database and this test's stream; stops them all after."""
    relays: list[OutboxRelay] = []

    def make(redis_url: str | None = None, **outbox: Any) -> OutboxRelay:
        settings = OutboxSettings(**{"poll_interval_seconds": 1.0, **outbox})
        relay = build_relay(
            DatabaseSettings(database_url=outbox_database_url),
            RedisSettings(url=redis_url or servers["redis"]),
            settings,
            keyspace,
        )
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        await relay.stop()


async def insert_organizations(
    db: asyncpg.Pool, count: int, *, traceparent: str | None = None
) -> list[uuid.UUID]:
    """One organization per transaction, one after the other: ids in commit order."""
    ids = [uuid.uuid4() for _ in range(count)]
    async with db.acquire() as conn:
        for number, oid in enumerate(ids):
            async with conn.transaction():
                if traceparent:
                    await conn.execute(
                        "SELECT set_config('collabcache.traceparent', $1, true)", traceparent
                    )
                await conn.execute(
                    "INSERT INTO organizations (id, name) VALUES ($1, $2)", oid, f"org {number}"
                )
    return ids


async def outbox_rows(db: asyncpg.Pool) -> list[tuple[int, dict[str, Any]]]:
    records = await db.fetch("SELECT id, event::text AS event FROM outbox ORDER BY id")
    return [(r["id"], json.loads(r["event"])) for r in records]
