"""A worker's view of one stream's consumer group: every Redis Stream command a stream worker
sends (the kit's readers, claim rounds and shutdown, and the services' settlements).

- the group is created from the stream's start (id 0), so nothing published before the first
  consumer ran is skipped;
- new entries are read in batches (XREADGROUP `>`), this consumer's own pending ones from id 0;
- entries other consumers left pending are claimed (XAUTOCLAIM), with their delivery counts
  when asked (one pipelined XPENDING per entry: exact, one round trip);
- an entry is dead-lettered by copying it, with why, to the dead-letter stream and acknowledging
  it in the same round trip;
- a stopping consumer leaves the group (XGROUP DELCONSUMER) unless entries are pending to it,
  so restarts do not pile up dead consumer names in XINFO CONSUMERS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from ..cache.store import AnyRedis
from ..clock import now_ms
from .names import GroupNames

Fields = Mapping[bytes, bytes]
SCAN_START = b"0-0"  # where an XAUTOCLAIM scan starts, and the cursor once it went round
DEAD_LETTER_MAXLEN = 100_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry as a batch hands it on."""

    id: bytes  # b"" under FastStream's TestRedisBroker (nothing is written to Redis)
    fields: dict[bytes, bytes]
    deliveries: int = 1  # times the group delivered it, this time included (claims count)


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    cursor: bytes  # where the next XAUTOCLAIM starts (`SCAN_START`: the scan went round)
    entries: list[Entry]
    trimmed: int  # pending entries trimmed from the stream before anyone settled them


@dataclass(frozen=True, slots=True)
class GroupState:
    lag: int | None  # entries not yet delivered to the group (None: Redis cannot tell)
    pending: int  # delivered, not yet acknowledged


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(read: Any) -> list[Entry]:
    return [Entry(i, dict(f)) for i, f in read if f]


class GroupStream:
    def __init__(
        self, redis: AnyRedis, names: GroupNames, dead_letter_maxlen: int = DEAD_LETTER_MAXLEN
    ) -> None:
        self.redis = redis
        self.names = names
        self.dead_letter_maxlen = dead_letter_maxlen

    async def ensure_group(self) -> bool:
        """Create the group (and the stream) from id 0; True when it was created now."""
        try:
            await self.redis.xgroup_create(
                self.names.stream, self.names.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    async def read_new(self, count: int, block_ms: int) -> list[Entry]:
        """Up to `count` entries never delivered to the group, waiting up to `block_ms` for
        the first."""
        reply: Any = await self.redis.xreadgroup(
            self.names.group,
            self.names.consumer,
            {self.names.stream: ">"},
            count=count,
            block=block_ms,
        )
        return _entries(reply[0][1]) if reply else []

    async def read_own_pending(self, count: int) -> list[Entry]:
        """The oldest `count` entries this consumer read and never acknowledged (XREADGROUP
        from id 0). Entries trimmed from the stream meanwhile come back without fields: they
        are acknowledged here (nothing is left to handle) and the next ones read, so an empty
        list means nothing is pending to this consumer."""
        while True:
            reply: Any = await self.redis.xreadgroup(
                self.names.group, self.names.consumer, {self.names.stream: "0"}, count=count
            )
            read = reply[0][1] if reply else []
            trimmed = [i for i, f in read if not f]
            if trimmed:
                await self.ack(*trimmed)
            if len(trimmed) < len(read) or not read:
                return _entries(read)

    async def claim(
        self, cursor: bytes, min_idle_ms: int, count: int, *, with_deliveries: bool
    ) -> ClaimBatch:
        """XAUTOCLAIM one batch from `cursor` for this consumer; each entry's delivery count
        too when `with_deliveries` (else 1)."""
        reply: Any = await self.redis.xautoclaim(
            self.names.stream,
            self.names.group,
            self.names.consumer,
            min_idle_time=min_idle_ms,
            start_id=cursor,
            count=count,
        )
        entries = [Entry(i, dict(f)) for i, f in reply[1] if f is not None]
        trimmed = len(reply[2]) if len(reply) > 2 else 0
        if with_deliveries and entries:
            entries = await self._with_deliveries(entries)
        return ClaimBatch(reply[0], entries, trimmed)

    async def _with_deliveries(self, entries: list[Entry]) -> list[Entry]:
        pipe = self.redis.pipeline(transaction=False)
        for entry in entries:
            pipe.xpending_range(
                self.names.stream, self.names.group, min=entry.id, max=entry.id, count=1
            )
        counts = [int(p[0]["times_delivered"]) if p else 1 for p in await pipe.execute()]
        return [Entry(e.id, e.fields, n) for e, n in zip(entries, counts, strict=True)]

    async def deliveries(self, entry_id: bytes) -> int:
        """How many times the group delivered the entry (1 if it is not pending)."""
        pending = await self.redis.xpending_range(
            self.names.stream, self.names.group, min=entry_id, max=entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    async def ack(self, *ids: bytes) -> None:
        if ids:
            await self.redis.xack(self.names.stream, self.names.group, *ids)

    async def dead_letter(
        self, entry_id: bytes, fields: Fields, *, reason: str, error: str, deliveries: int
    ) -> None:
        """Copy the entry to the dead-letter stream with why, then acknowledge it (one round
        trip, in that order: a crash between the two at worst dead-letters it twice). The
        original fields are kept as they were; ours are namespaced `dlq:`."""
        if self.names.dead_letter is None:
            raise LookupError(f"{self.names.stream} has no dead-letter stream")
        record: dict[Any, Any] = {
            **fields,
            "dlq:error": error,
            "dlq:reason": reason,
            "dlq:id": entry_id,
            "dlq:stream": self.names.stream,
            "dlq:deliveries": deliveries,
            "dlq:at_ms": now_ms(),
        }
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(self.names.dead_letter, record, maxlen=self.dead_letter_maxlen, approximate=True)
        if entry_id:
            pipe.xack(self.names.stream, self.names.group, entry_id)
        await pipe.execute()

    async def leave(self) -> bool:
        """Remove this consumer from the group if it holds no pending entry (those stay for
        another consumer's claim); False when it stayed, or there was no group to leave."""
        names = self.names
        try:
            pending = await self.redis.xpending_range(
                names.stream, names.group, min="-", max="+", count=1, consumername=names.consumer
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # stopped before the group was made: nothing to leave
                return False
            raise
        if pending:
            return False
        await self.redis.xgroup_delconsumer(names.stream, names.group, names.consumer)
        return True

    async def group_state(self) -> GroupState:
        """The group's backlog (XINFO GROUPS)."""
        for group in await self.redis.xinfo_groups(self.names.stream):
            info = {_text(k): v for k, v in group.items()}
            if _text(info["name"]) == self.names.group:
                lag = info.get("lag")
                return GroupState(int(lag) if lag is not None else None, int(info["pending"]))
        return GroupState(None, 0)
