"""SQL of the outbox relay, on the relay's own asyncpg connection.

A round runs in one transaction: take the relay lock, claim the oldest rows, publish them,
delete them, commit. The lock (an advisory lock held until the transaction ends) lets one relay
publish at a time, so the stream receives the rows in `id` order even with several API replicas;
`SKIP LOCKED` keeps any other claimer (a relay of an older release, a hand-run script) from
taking the same rows twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

# pg_try_advisory_xact_lock key: "collabcache outbox".
RELAY_LOCK_KEY = 0x0B_0C_CC
CHANNEL = "collabcache_outbox"

_TRY_LEAD = "SELECT pg_try_advisory_xact_lock($1)"
# The event is sent as PostgreSQL wrote it (`::text`): no JSON parsing on the way through.
_CLAIM = """
SELECT id, event::text AS event, event->>'id' AS event_id, event->>'traceparent' AS traceparent,
       event->'payload'->>'type' AS event_type
FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""
_DELETE = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    event: str  # the DomainEvent envelope, as JSON
    event_id: str | None
    traceparent: str | None
    event_type: str | None = None  # the payload's type (names the publish span)


def asyncpg_dsn(database_url: str) -> str:
    """asyncpg wants `postgresql://`; the settings give the SQLAlchemy `postgresql+asyncpg://`."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def try_lead(conn: asyncpg.Connection) -> bool:
    """True when this transaction is the one relay allowed to publish now."""
    return bool(await conn.fetchval(_TRY_LEAD, RELAY_LOCK_KEY))


async def claim(conn: asyncpg.Connection, limit: int) -> list[OutboxRow]:
    """The oldest unpublished rows, locked until the transaction ends, in `id` order."""
    records = await conn.fetch(_CLAIM, limit)
    return [
        OutboxRow(r["id"], r["event"], r["event_id"], r["traceparent"], r["event_type"])
        for r in records
    ]


async def delete(conn: asyncpg.Connection, rows: Sequence[OutboxRow]) -> None:
    await conn.execute(_DELETE, [row.id for row in rows])
