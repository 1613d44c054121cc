"""The domain events of the current transaction, as the database triggers recorded them.

Every change to a domain table inserts its event into `outbox` in the same transaction
(migration 0002), whatever made it. Before committing a write, the request reads back the rows
its own transaction inserted: the API invalidates the cache from exactly the events the relay
will publish for the invalidator, so the two paths can never disagree, and no write path can
forget an event.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.events import DomainEvent
from collabcache_shared.telemetry.propagation import current_traceparent

# W3C trace context: version-traceid-parentid-flags, lowercase hex.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_SET_TRACEPARENT = text("SELECT set_config('collabcache.traceparent', :traceparent, true)")
_OWN_EVENTS = text("SELECT event::text FROM outbox WHERE xid = pg_current_xact_id() ORDER BY id")


async def of_current_transaction(session: AsyncSession) -> list[DomainEvent]:
    rows = await session.scalars(_OWN_EVENTS)
    return [DomainEvent.model_validate_json(row) for row in rows]


async def carry_trace_context(session: AsyncSession, incoming: str | None) -> None:
    """Let this transaction's events carry the request's trace context (read by the triggers).

    With tracing on, that is the span handling the request (which continues `incoming`, the
    request's `traceparent` header, if it had one); with tracing off, the header as received.
    `set_config(..., true)` lasts until the transaction ends; a malformed header is ignored.
    """
    traceparent = current_traceparent() or incoming
    if traceparent and _TRACEPARENT.match(traceparent):
        await session.execute(_SET_TRACEPARENT, {"traceparent": traceparent})
