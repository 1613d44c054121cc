"""Redis operations on cache entries: one method per round trip, no policy.

`lookup` is the hot path: for each requested entry one `HMGET` of its value and stale mark
and one `GET` of its family generation, all in one pipeline, so a hit (authorization record
and response together) costs one round trip. `fence` and `clear` are a write's (before and
after its commit), `invalidate` the invalidator's: each one command on a standalone Redis
whatever the number of entries, one command per entry on a cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from . import lookup_call, scripts
from .entry import DATA, STALE_SINCE, Entry
from .keys import POLICIES, CacheKey, KeySpace
from .lookup_call import Lookup
from .pipelined import run_each

AnyRedis = Redis | RedisCluster
# Per entry, the ids of the events a write's clear certifies it for (`scripts.INVALIDATE`).
Certificates = Mapping[CacheKey, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Slot:
    """One variant (a page, a study...) of one entry."""

    key: CacheKey
    variant: str = "-"


@dataclass(frozen=True, slots=True)
class Found:
    slot: Slot
    entry: Entry | None
    generation: int
    stale_since_ms: int | None


class FillResult(IntEnum):
    REFUSED = 0  # the lease was gone, taken over or fenced: the value may be stale
    STORED = 1
    FULL = 2  # the lease held (the value is fresh) but the entry has no room for a new variant


@dataclass(frozen=True, slots=True)
class Lease:
    granted: bool
    token: str = ""
    invalidations: int = 0  # the entry's `g` when the lease was taken
    filled_meanwhile: bool = False
    wait_ms: int = 0
    fenced: bool = False  # a write is committing: load and answer, never fill


def _lease_of(reply: Any, token: str) -> Lease:
    """A `LEASE` script's reply, read."""
    status = int(reply[0])
    if status == 1:
        return Lease(True, token, invalidations=int(reply[1]))
    if status == 2:
        return Lease(False, wait_ms=int(reply[1]))
    if status == 3:
        return Lease(False, fenced=True)
    return Lease(False, filled_meanwhile=True)


def _fill_args(slot: Slot, lease: Lease, entry: Entry, ttl_ms: int, max_fields: int) -> list[Any]:
    """The `FILL` script's ARGV."""
    return [slot.variant, lease.token, entry.encode(), ttl_ms, lease.invalidations, max_fields]


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


class EntryStore:
    def __init__(self, redis: AnyRedis, keyspace: KeySpace) -> None:
        self.redis = redis
        self.keys = keyspace
        self._lease = redis.register_script(scripts.LEASE)
        self._fill = redis.register_script(scripts.FILL)
        self._release = redis.register_script(scripts.RELEASE)
        self._invalidate_all = redis.register_script(scripts.INVALIDATE)
        self._lookup_all = redis.register_script(scripts.LOOKUP)
        # Asked once: isinstance of RedisCluster (a typing Protocol's check) is slow per call.
        self._cluster = isinstance(redis, RedisCluster)
        # `lookup_call`: a pooled standalone client (a single connection has its own lock)
        self._direct = (
            redis if isinstance(redis, Redis) and not redis.single_connection_client else None
        )

    def lookup_of(self, slots: Sequence[Slot]) -> Lookup:
        """The `lookup` of `slots`, made once for many calls (`lookup_call`)."""
        keys, args = self._lookup_args(slots)
        if self._direct is None:
            return Lookup(tuple(slots), b"")
        return Lookup(tuple(slots), lookup_call.evalsha(scripts.LOOKUP_SHA, keys, args))

    def _lookup_args(self, slots: Sequence[Slot]) -> tuple[list[str], list[str]]:
        """The `LOOKUP` script's KEYS and ARGV."""
        keys: list[str] = []
        for slot in slots:
            keys += (self.keys.entry(slot.key), self.keys.generation(slot.key.family))
        return keys, [DATA + slot.variant for slot in slots] + [STALE_SINCE]

    async def lookup(self, slots: Sequence[Slot] | Lookup) -> list[Found]:
        """One round trip: one `LOOKUP` call on a standalone Redis (one command to pack and
        parse: the hit path's main cost, packed once in a `Lookup`); an HMGET and a GET per
        entry, pipelined, on a cluster (its entries live in many hash slots)."""
        looked = slots if isinstance(slots, Lookup) else self.lookup_of(slots)
        if self._cluster:
            return self._found(looked.slots, await self._lookup_each(looked.slots))
        flat = None
        if looked.command and self._direct is not None:
            flat = await lookup_call.send(self._direct, looked.command)
        if flat is None:
            keys, args = self._lookup_args(looked.slots)
            flat = await self._lookup_all(keys=keys, args=args)
        return self._found(looked.slots, [flat[i : i + 3] for i in range(0, len(flat), 3)])

    async def _lookup_each(self, slots: Sequence[Slot]) -> list[list[Any]]:
        pipe = self.redis.pipeline(transaction=False)
        for slot in slots:
            pipe.hmget(self.keys.entry(slot.key), [DATA + slot.variant, STALE_SINCE])
            pipe.get(self.keys.generation(slot.key.family))
        replies = await pipe.execute()
        return [[*replies[2 * i], replies[2 * i + 1]] for i in range(len(slots))]

    @staticmethod
    def _found(slots: Sequence[Slot], replies: list[list[Any]]) -> list[Found]:
        """Per slot, from its [data, stale-since, generation]."""
        found = []
        for slot, (raw, stale, generation) in zip(slots, replies, strict=True):
            entry = Entry.decode(raw) if raw is not None else None
            found.append(Found(slot, entry, _int(generation), int(stale) if stale else None))
        return found

    async def lease(
        self,
        slot: Slot,
        now_ms: int,
        lease_ms: int,
        generation: int,
        mode: str,
        ttl_ms: int,
        fence_s: int = 0,
    ) -> Lease:
        """`fence_s`: no lease from a server up for less (it may have lost writes' fences)."""
        token = uuid.uuid4().hex
        reply = await self._lease(
            keys=[self.keys.entry(slot.key)],
            args=[slot.variant, token, now_ms, lease_ms, generation, ttl_ms, mode, fence_s],
        )
        return _lease_of(reply, token)

    async def lease_many(
        self,
        wanted: Sequence[tuple[Slot, int]],
        now_ms: int,
        lease_ms: int,
        mode: str,
        ttl_ms: int,
        fence_s: int = 0,
    ) -> list[Lease]:
        """`lease` of each (slot, generation), in one round trip (the same script each)."""
        tokens = [uuid.uuid4().hex for _ in wanted]
        calls = [
            (
                self.keys.entry(slot.key),
                [slot.variant, token, now_ms, lease_ms, generation, ttl_ms, mode, fence_s],
            )
            for (slot, generation), token in zip(wanted, tokens, strict=True)
        ]
        replies = await run_each(self.redis, scripts.LEASE, calls)
        return [_lease_of(reply, token) for reply, token in zip(replies, tokens, strict=True)]

    async def fill_many(
        self, fills: Sequence[tuple[Slot, Lease, Entry]], ttl_ms: int, max_fields: int
    ) -> list[FillResult]:
        """`fill` of each (slot, lease, entry), in one round trip (the same script each)."""
        calls = [
            (self.keys.entry(slot.key), _fill_args(slot, lease, entry, ttl_ms, max_fields))
            for slot, lease, entry in fills
        ]
        return [FillResult(int(reply)) for reply in await run_each(self.redis, scripts.FILL, calls)]

    async def fill(
        self, slot: Slot, lease: Lease, entry: Entry, ttl_ms: int, max_fields: int
    ) -> FillResult:
        reply = await self._fill(
            keys=[self.keys.entry(slot.key)],
            args=_fill_args(slot, lease, entry, ttl_ms, max_fields),
        )
        return FillResult(int(reply))

    async def release(self, slot: Slot, lease: Lease) -> None:
        await self._release(keys=[self.keys.entry(slot.key)], args=[slot.variant, lease.token])

    async def fence(self, keys: Iterable[CacheKey], token: str, fence_ms: int, now_ms: int) -> int:
        """Put up a write's fence on every entry it will invalidate (dropping their values)."""
        return await self._invalidate("fence", keys, now_ms, token, fence_ms)

    async def clear(
        self,
        keys: Iterable[CacheKey],
        token: str,
        now_ms: int,
        certify: Certificates | None = None,
        certify_ms: int = 0,
    ) -> int:
        """Take a committed write's fence down, dropping the entries; each entry is certified
        for the events `certify` names for it, for `certify_ms` (`scripts.INVALIDATE`)."""
        return await self._invalidate("clear", keys, now_ms, token, certify_ms, certify)

    async def invalidate(
        self, keys: Iterable[CacheKey], now_ms: int, certified: Certificates | None = None
    ) -> int:
        """Drop entries (every variant, every lease) but leave writes' fences up, and spare an
        entry certified for every event `certified` names for it; families that may be served
        stale are marked stale instead. Returns how many entries."""
        return await self._invalidate("drop", keys, now_ms, certify=certified)

    async def _invalidate(
        self,
        op: str,
        keys: Iterable[CacheKey],
        now_ms: int,
        token: str = "-",
        fence_ms: int = 0,
        certify: Certificates | None = None,
    ) -> int:
        """One round trip: on a standalone Redis one `INVALIDATE` call whatever the number of
        keys; on a cluster (keys in many hash slots) one `EVALSHA` per key, pipelined (the
        script is loaded again on a node that answers NOSCRIPT). Returns how many entries."""
        dropped: dict[str, str] = {}
        marked: dict[str, str] = {}
        for key in keys:
            events = " ".join(certify.get(key, ())) if certify else ""
            (marked if POLICIES[key.family].serve_stale else dropped)[self.keys.entry(key)] = events
        names = [*dropped, *marked]
        if not names:
            return 0
        events_of = [*dropped.values(), *marked.values()]
        args: list[Any] = [op, now_ms, fence_ms, token]
        if isinstance(self.redis, RedisCluster):
            await self._invalidate_each(names, len(dropped), args, events_of)
        else:
            await self._invalidate_all(keys=names, args=[*args, len(dropped) + 1, *events_of])
        return len(names)

    async def _invalidate_each(
        self, names: list[str], dropped: int, args: list[Any], events_of: list[str]
    ) -> None:
        # Queued with `execute_command`, which both pipeline kinds queue at once (a registered
        # script called with `client=pipe` is a coroutine on a cluster pipeline, and an
        # unawaited one silently queues nothing).
        def queue(pipe: Any, command: str, body: str, index: int) -> None:
            first_stale = 1 if index >= dropped else 2
            pipe.execute_command(
                command, body, 1, names[index], *args, first_stale, events_of[index]
            )

        pipe = self.redis.pipeline(transaction=False)
        for index in range(len(names)):
            queue(pipe, "EVALSHA", scripts.INVALIDATE_SHA, index)
        replies = await pipe.execute(raise_on_error=False)
        unloaded = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        for reply in replies:
            if isinstance(reply, Exception) and not isinstance(reply, NoScriptError):
                raise reply
        if unloaded:  # EVAL runs the script and loads it on those nodes for the next time
            pipe = self.redis.pipeline(transaction=False)
            for index in unloaded:
                queue(pipe, "EVAL", scripts.INVALIDATE, index)
            await pipe.execute()

    async def ping(self) -> bool:
        return bool(await self.redis.ping())
