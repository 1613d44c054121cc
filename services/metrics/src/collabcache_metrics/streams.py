"""The streams the metrics service consumes, and its own commands on them.

FastStream reads new entries (XREADGROUP `>`); the rest is here: creating each group from the
stream's start (events published before the first metrics consumer ran are counted too),
claiming the entries of consumers that went quiet (XAUTOCLAIM), and leaving the group cleanly.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis
from collabcache_shared.events import (
    CACHE_EVENTS_STREAM,
    INVALIDATION_EVENTS_STREAM,
    METRICS_GROUP,
)
from collabcache_shared.streams.groups import create_group_from_start, leave_group

Fields = dict[bytes, bytes]


def unique_consumer_name() -> str:
    """Unique per process, readable in XINFO CONSUMERS: `<hostname>-<pid>-<random>`."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class StreamNames:
    """One consumed stream: its key, the group and this process's consumer name."""

    kind: str  # "cache_events" or "invalidations": a metric label
    name: str  # the stream's name relative to the key prefix (`collabcache_shared.events`)
    stream: str  # its Redis key
    group: str
    consumer: str

    @classmethod
    def under(cls, keyspace: KeySpace, kind: str, name: str, consumer: str) -> StreamNames:
        return cls(kind, name, keyspace.stream(name), METRICS_GROUP, consumer)

    @classmethod
    def cache_events(cls, keyspace: KeySpace, consumer: str) -> StreamNames:
        return cls.under(keyspace, "cache_events", CACHE_EVENTS_STREAM, consumer)

    @classmethod
    def invalidations(cls, keyspace: KeySpace, consumer: str) -> StreamNames:
        return cls.under(keyspace, "invalidations", INVALIDATION_EVENTS_STREAM, consumer)


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    cursor: bytes  # where the next XAUTOCLAIM starts (`0-0`: the scan went round)
    ids: list[bytes]
    entries: list[Fields]


class GroupStream:
    """This consumer's view of one stream's group."""

    def __init__(self, redis: AnyRedis, names: StreamNames) -> None:
        self.redis = redis
        self.names = names

    async def ensure_group(self) -> bool:
        """Create the group (and the stream) from id 0; True when it was created now."""
        return await create_group_from_start(self.redis, self.names.stream, self.names.group)

    async def claim(self, cursor: bytes, min_idle_ms: int, count: int) -> ClaimBatch:
        """XAUTOCLAIM one batch for this consumer (entries trimmed from the stream meanwhile
        are dropped from the pending list by Redis itself)."""
        reply: Any = await self.redis.xautoclaim(
            self.names.stream,
            self.names.group,
            self.names.consumer,
            min_idle_time=min_idle_ms,
            start_id=cursor,
            count=count,
        )
        entries = [(i, f) for i, f in reply[1] if f is not None]
        return ClaimBatch(reply[0], [i for i, _ in entries], [dict(f) for _, f in entries])

    async def own_pending(self, count: int) -> ClaimBatch:
        """The oldest `count` entries this consumer read and never acknowledged (XREADGROUP
        from id 0: its own pending list). Entries trimmed from the stream meanwhile come back
        without fields: they are acknowledged here (there is nothing left to fold) and the
        next ones read, so an empty batch means nothing is pending to this consumer."""
        while True:
            reply: Any = await self.redis.xreadgroup(
                self.names.group, self.names.consumer, {self.names.stream: "0"}, count=count
            )
            read = reply[0][1] if reply else []
            trimmed = [i for i, f in read if not f]
            if trimmed:
                await self.redis.xack(self.names.stream, self.names.group, *trimmed)
            entries = [(i, f) for i, f in read if f]
            if entries or not read:
                return ClaimBatch(b"", [i for i, _ in entries], [dict(f) for _, f in entries])

    async def leave(self) -> bool:
        """Remove this consumer from the group if it holds no pending entry (once it has
        stopped reading), so restarts do not pile up dead consumer names."""
        return await leave_group(
            self.redis, self.names.stream, self.names.group, self.names.consumer
        )
