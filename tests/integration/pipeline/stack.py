"""The whole event pipeline of a deployment, in-process: an API app (its outbox relay running)
and an invalidator app, on one database and one Redis key prefix, and what a test needs to
watch it: the outbox, the domain-events stream and its consumer group.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from collabcache_api.outbox.relay import OutboxRelay
from collabcache_invalidator.bootstrap import Invalidator
from collabcache_invalidator.streams import GroupState
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import DomainEvent
from tests.integration.builders import Builder
from tests.integration.invalidator.support import running
from tests.integration.outbox.conftest import decode_entry
from tests.integration.streams import entries, newest

Change = Callable[[asyncpg.Connection, Any], Awaitable[None]]
OWN_EVENTS = "SELECT event::text FROM outbox WHERE xid = pg_current_xact_id() ORDER BY id"
STREAM_START = "0-0"
PROCESSED = "invalidator_events_processed_total"
EVENT_TYPES = [
    "membership.changed.v1",
    "organization.changed.v1",
    "team.changed.v1",
    "team_membership.changed.v1",
    "study.changed.v1",
    "collaboration.changed.v1",
    "comment.changed.v1",
    "user.changed.v1",
]


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    """Poll `check` every 10 ms; the seconds it took, or AssertionError after `within`."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@dataclass
class Pipeline:
    app: Any  # the API (FastAPI), its lifespan entered: the outbox relay runs
    client: httpx.AsyncClient
    db: asyncpg.Pool
    build: Builder
    redis: Redis  # a plain client, to look at the stream and the entries
    keyspace: KeySpace
    invalidator: Invalidator  # built; consuming only once `start_invalidator` ran
    stack: AsyncExitStack
    invalidating: bool = False

    @property
    def stream(self) -> str:
        return self.invalidator.names.stream

    @property
    def relay(self) -> OutboxRelay:
        relay: OutboxRelay = self.app.state.container.outbox_relay
        return relay

    async def start_invalidator(self) -> None:
        await self.stack.enter_async_context(running(self.invalidator))
        self.invalidating = True

    # -- the outbox and the stream ----------------------------------------------------------------
    async def outbox_event_ids(self) -> list[str]:
        rows = await self.db.fetch("SELECT event->>'id' AS event_id FROM outbox ORDER BY outbox.id")
        return [r["event_id"] for r in rows]

    def processed(self) -> Counter[str]:
        """The invalidator's count of events applied, by type."""
        sample = self.invalidator.metrics.registry.get_sample_value
        return Counter({t: int(sample(PROCESSED, {"type": t}) or 0) for t in EVENT_TYPES})

    async def group_state(self) -> GroupState:
        return await self.invalidator.stream.group_state()

    async def settled(self) -> bool:
        """Nothing waits in the outbox and, with the invalidator running, every stream entry
        was delivered to its group and acknowledged."""
        if await self.db.fetchval("SELECT count(*) FROM outbox"):
            return False
        if not self.invalidating:
            return True
        state = await self.group_state()
        return (state.lag, state.pending) == (0, 0)

    async def settle(self, within: float = 10.0) -> float:
        return await eventually(self.settled, within, "the pipeline settles")

    async def stream_mark(self) -> str:
        """The id of the stream's newest entry: what comes after it is new."""
        last = await newest(self.redis, self.stream, 1)
        return last[0][0].decode() if last else STREAM_START

    async def events_since(self, mark: str) -> list[tuple[str, DomainEvent]]:
        read = await entries(self.redis, self.stream, after=f"({mark}")
        messages = [decode_entry(entry_id, fields) for entry_id, fields in read]
        return [(m.entry_id, DomainEvent.model_validate_json(m.body)) for m in messages]

    async def last_delivered(self) -> str:
        for group in await self.redis.xinfo_groups(self.stream):
            if group["name"] in (
                self.invalidator.names.group,
                self.invalidator.names.group.encode(),
            ):
                value = group["last-delivered-id"]
                return value.decode() if isinstance(value, bytes) else str(value)
        return STREAM_START

    # -- changes by SQL -------------------------------------------------------------------------
    async def change(self, change: Change, ctx: Any) -> tuple[list[DomainEvent], float]:
        """Run `change` in one transaction: the events its triggers wrote to the outbox, and
        the monotonic time the commit returned."""
        async with self.db.acquire() as conn:
            async with conn.transaction():
                await change(conn, ctx)
                rows = await conn.fetch(OWN_EVENTS)
            committed = time.monotonic()
        return [DomainEvent.model_validate_json(r["event"]) for r in rows], committed


def entry_order(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq)
