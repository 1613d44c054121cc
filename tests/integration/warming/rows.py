"""The warm tests' reads of their seeded database, and tokens for its users."""

from __future__ import annotations

import uuid

import asyncpg

from collabcache_api.security import issue_token
from collabcache_shared.settings import ApiSettings
from tests.databases import plain_dsn


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def headers_of(user_id: uuid.UUID, settings: ApiSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user_id, settings)}"}
