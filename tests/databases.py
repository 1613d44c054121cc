"""Throwaway PostgreSQL databases for a test run: created, migrated to head, dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import asyncpg

from collabcache_api.migrate import upgrade


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin_exec(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def migrated_database(admin_url: str, name: str) -> Iterator[str]:
    """A database `name` on the server of `admin_url`, at the latest migration, for the block."""
    admin = plain_dsn(admin_url)
    asyncio.run(_admin_exec(admin, f'CREATE DATABASE "{name}"'))
    url = urlsplit(admin)._replace(path=f"/{name}").geturl()
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
