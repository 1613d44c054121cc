"""The invalidator's own Redis Stream commands on the domain-events stream and its group.

FastStream reads new entries (XREADGROUP `>`); everything around that is here: creating the
group from the stream's start, acknowledging, counting deliveries (XPENDING), claiming the
entries of consumers that went quiet (XAUTOCLAIM), dead-lettering, and the group's backlog.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis
from collabcache_shared.events import (
    DOMAIN_EVENTS_DEAD_LETTER_STREAM,
    DOMAIN_EVENTS_STREAM,
    INVALIDATOR_GROUP,
)
from collabcache_shared.streams.groups import create_group_from_start

from .reports import AppliedReports

Fields = Mapping[bytes, bytes]


def unique_consumer_name() -> str:
    """Unique per process, readable in XINFO CONSUMERS: `<hostname>-<pid>-<random>`."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class StreamNames:
    stream: str
    dead_letter: str
    group: str
    consumer: str

    @classmethod
    def under(cls, keyspace: KeySpace, consumer: str) -> StreamNames:
        return cls(
            stream=keyspace.stream(DOMAIN_EVENTS_STREAM),
            dead_letter=keyspace.stream(DOMAIN_EVENTS_DEAD_LETTER_STREAM),
            group=INVALIDATOR_GROUP,
            consumer=consumer,
        )


@dataclass(frozen=True, slots=True)
class Claimed:
    """An entry taken over from a consumer that left it pending."""

    id: bytes
    fields: dict[bytes, bytes]
    deliveries: int  # including this one


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    cursor: bytes  # where the next XAUTOCLAIM starts (`0-0`: the scan went round)
    entries: list[Claimed]
    deleted: int  # pending entries trimmed from the stream before anyone processed them


@dataclass(frozen=True, slots=True)
class GroupState:
    lag: int | None  # entries not yet delivered to the group (None: Redis cannot tell)
    pending: int  # delivered, not yet acknowledged


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class EventStream:
    def __init__(
        self,
        redis: AnyRedis,
        names: StreamNames,
        dead_letter_maxlen: int,
        reports: AppliedReports | None = None,
    ) -> None:
        self.redis = redis
        self.names = names
        self.dead_letter_maxlen = dead_letter_maxlen
        self.reports = reports  # sent with each acknowledgement, in its round trip

    async def ensure_group(self) -> bool:
        """Create the group (and the stream) from the start, so no event published before the
        first invalidator ran is skipped. True when it was created now."""
        return await create_group_from_start(self.redis, self.names.stream, self.names.group)

    async def ack(self, *ids: bytes) -> None:
        """XACK, with the waiting invalidation reports in the same pipelined round trip (a
        report that fails is dropped; the acknowledgement's own failure raises)."""
        if not ids:
            return
        if self.reports is None or not self.reports.pending:
            await self.redis.xack(self.names.stream, self.names.group, *ids)
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.names.stream, self.names.group, *ids)
        self.reports.drain_into(pipe)
        acked, *reported = await pipe.execute(raise_on_error=False)
        self.reports.sent(reported)
        if isinstance(acked, Exception):
            raise acked

    async def deliveries(self, entry_id: bytes) -> int:
        """How many times the group delivered the entry (1 if it is not pending)."""
        pending = await self.redis.xpending_range(
            self.names.stream, self.names.group, min=entry_id, max=entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    async def dead_letter(
        self, entry_id: bytes, fields: Fields, *, reason: str, error: str, deliveries: int
    ) -> None:
        """Copy the entry to the dead-letter stream with why, then acknowledge it (one round
        trip, in that order: a crash between the two at worst dead-letters it twice). The
        original fields are kept as they were; ours are namespaced `dlq:`."""
        record: dict[Any, Any] = {
            **fields,
            "dlq:error": error,
            "dlq:reason": reason,
            "dlq:id": entry_id,
            "dlq:stream": self.names.stream,
            "dlq:deliveries": deliveries,
            "dlq:at_ms": int(time.time() * 1000),
        }
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(self.names.dead_letter, record, maxlen=self.dead_letter_maxlen, approximate=True)
        if entry_id:
            pipe.xack(self.names.stream, self.names.group, entry_id)
        await pipe.execute()

    async def claim(self, cursor: bytes, min_idle_ms: int, count: int) -> ClaimBatch:
        """XAUTOCLAIM one batch from `cursor` for this consumer, then each entry's delivery
        count (one pipelined XPENDING per entry: exact, one round trip)."""
        reply = await self.redis.xautoclaim(
            self.names.stream,
            self.names.group,
            self.names.consumer,
            min_idle_time=min_idle_ms,
            start_id=cursor,
            count=count,
        )
        entries = [(i, f) for i, f in reply[1] if f is not None]
        deleted = len(reply[2]) if len(reply) > 2 else 0
        if not entries:
            return ClaimBatch(reply[0], [], deleted)
        pipe = self.redis.pipeline(transaction=False)
        for entry_id, _ in entries:
            pipe.xpending_range(
                self.names.stream, self.names.group, min=entry_id, max=entry_id, count=1
            )
        counts = [int(p[0]["times_delivered"]) if p else 1 for p in await pipe.execute()]
        claimed = [Claimed(i, dict(f), n) for (i, f), n in zip(entries, counts, strict=True)]
        return ClaimBatch(reply[0], claimed, deleted)

    async def group_state(self) -> GroupState:
        for group in await self.redis.xinfo_groups(self.names.stream):
            info = {_text(k): v for k, v in group.items()}
            if _text(info["name"]) == self.names.group:
                lag = info.get("lag")
                return GroupState(int(lag) if lag is not None else None, int(info["pending"]))
        return GroupState(None, 0)
