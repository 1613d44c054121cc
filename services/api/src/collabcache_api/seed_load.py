"""Writes a generated dataset to PostgreSQL with COPY, in one transaction.

The load refuses a database that already has users (the demo rows would collide with, or be
mixed into, real ones); concurrent loaders are serialized by an advisory lock, so two
`seed --if-empty` started together load once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from .outbox.silence import events_silenced
from .seed_dataset import TABLE_COLUMNS, Dataset

# pg_advisory_xact_lock key: "collabcache seed".
SEED_LOCK_KEY = 0x5EED_CC
HAS_USERS = "SELECT EXISTS (SELECT 1 FROM users)"


class SeedError(Exception):
    """A load that cannot happen, with a message for the operator."""


class DatabaseNotEmpty(SeedError):
    pass


@dataclass(frozen=True)
class LoadResult:
    counts: dict[str, int]
    seconds: float


def plain_dsn(database_url: str) -> str:
    """asyncpg wants `postgresql://`; the settings give the SQLAlchemy `postgresql+asyncpg://`."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def has_users(dsn: str) -> bool:
    conn = await connect(dsn)
    try:
        return bool(await conn.fetchval(HAS_USERS))
    except asyncpg.UndefinedTableError as exc:
        raise SeedError(_NOT_MIGRATED) from exc
    finally:
        await conn.close()


async def load(dsn: str, make_dataset: Callable[[], Dataset]) -> LoadResult:
    """Generate (only once the database is known to be empty) and COPY every table."""
    started = time.perf_counter()
    if await has_users(dsn):
        raise DatabaseNotEmpty(_NOT_EMPTY)
    dataset = make_dataset()
    conn = await connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SEED_LOCK_KEY)
            if await conn.fetchval(HAS_USERS):  # another loader won the race
                raise DatabaseNotEmpty(_NOT_EMPTY)
            async with events_silenced(conn):  # demo rows are no change to announce
                for table, columns, rows in dataset.tables():
                    await conn.copy_records_to_table(table, records=rows, columns=columns)
        await conn.execute(f"ANALYZE {', '.join(TABLE_COLUMNS)}")
    except asyncpg.UniqueViolationError as exc:
        raise SeedError(f"the demo rows collide with existing ones: {exc}") from exc
    except asyncpg.UndefinedTableError as exc:
        raise SeedError(_NOT_MIGRATED) from exc
    finally:
        await conn.close()
    return LoadResult(dataset.counts(), time.perf_counter() - started)


async def connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise SeedError(f"cannot connect to the database: {exc}") from exc


_NOT_EMPTY = (
    "the database already has users: refusing to load the demo data into it "
    "(use --if-empty to skip quietly, or start from an empty database)"
)
_NOT_MIGRATED = "the tables are missing: run `python -m collabcache_api.cli migrate` first"
