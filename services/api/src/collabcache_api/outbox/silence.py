"""Bulk loads that produce no domain events (the demo/bench seed).

The change triggers would turn every seeded row into an outbox event (tens of thousands of
them, for data that no cache has seen) and make COPY about five times slower. Within the
caller's transaction, `events_silenced` disables the triggers when the role may (it owns the
tables), else lets them fire; either way it deletes the transaction's outbox rows at the end.
Other sessions never see the triggers disabled: ALTER TABLE holds an ACCESS EXCLUSIVE lock on
each table until the transaction ends, and the triggers are enabled again before it does.
Meant for a transaction that does nothing else: every event it produced is dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

# The enabled triggers that call a change-capture function (collabcache_on_*).
_EVENT_TRIGGERS = r"""
SELECT format('%s', t.tgrelid::regclass) AS table_name, t.tgname AS trigger_name
FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND p.proname LIKE 'collabcache\_on\_%'
ORDER BY 1, 2
"""
_DROP_OWN_EVENTS = "DELETE FROM outbox WHERE xid = pg_current_xact_id()"


@asynccontextmanager
async def events_silenced(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Run inside a transaction: what the block changes leaves no event in the outbox."""
    disabled = await _disable_event_triggers(conn)
    yield
    await _set_triggers(conn, disabled, "ENABLE")
    await conn.execute(_DROP_OWN_EVENTS)


async def _disable_event_triggers(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The triggers it disabled; none when the role does not own the tables."""
    triggers: list[asyncpg.Record] = await conn.fetch(_EVENT_TRIGGERS)
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves the caller's usable
            await _set_triggers(conn, triggers, "DISABLE")
    except asyncpg.InsufficientPrivilegeError:
        return []
    return triggers


async def _set_triggers(conn: asyncpg.Connection, triggers: list[asyncpg.Record], how: str) -> None:
    for trigger in triggers:
        name = _quote(trigger["trigger_name"])
        await conn.execute(f"ALTER TABLE {trigger['table_name']} {how} TRIGGER {name}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
