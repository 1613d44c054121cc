"""Redis operations on cache entries: one method per round trip, no policy.

`lookup` is the hot path: for each requested entry one `HMGET` of its value and stale mark
and one `GET` of its family generation, all in one pipeline, so a hit (authorization record
and response together) costs one round trip. `invalidate` is the invalidator's: a batch of
events' entries in a few commands on a standalone Redis, one command per entry on a cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from . import scripts
from .entry import DATA, STALE_SINCE, Entry
from .keys import POLICIES, CacheKey, Family, KeySpace

AnyRedis = Redis | RedisCluster


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


@dataclass(frozen=True, slots=True)
class Lease:
    granted: bool
    token: str = ""
    invalidations: int = 0  # the entry's `g` when the lease was taken
    filled_meanwhile: bool = False
    wait_ms: int = 0


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


class EntryStore:
    def __init__(self, redis: AnyRedis, keyspace: KeySpace) -> None:
        self.redis = redis
        self.keys = keyspace
        self._lease = redis.register_script(scripts.LEASE)
        self._fill = redis.register_script(scripts.FILL)
        self._release = redis.register_script(scripts.RELEASE)

    async def lookup(self, slots: Sequence[Slot]) -> list[Found]:
        pipe = self.redis.pipeline(transaction=False)
        for slot in slots:
            pipe.hmget(self.keys.entry(slot.key), [DATA + slot.variant, STALE_SINCE])
            pipe.get(self.keys.generation(slot.key.family))
        replies = await pipe.execute()
        found = []
        for i, slot in enumerate(slots):
            (raw, stale), generation = replies[2 * i], replies[2 * i + 1]
            entry = Entry.decode(raw) if raw is not None else None
            found.append(Found(slot, entry, _int(generation), int(stale) if stale else None))
        return found

    async def lease(
        self, slot: Slot, now_ms: int, lease_ms: int, generation: int, mode: str, ttl_ms: int
    ) -> Lease:
        token = uuid.uuid4().hex
        reply = await self._lease(
            keys=[self.keys.entry(slot.key)],
            args=[slot.variant, token, now_ms, lease_ms, generation, ttl_ms, mode],
        )
        status = int(reply[0])
        if status == 1:
            return Lease(True, token, invalidations=int(reply[1]))
        if status == 2:
            return Lease(False, wait_ms=int(reply[1]))
        return Lease(False, filled_meanwhile=True)

    async def fill(self, slot: Slot, lease: Lease, entry: Entry, ttl_ms: int) -> bool:
        stored = await self._fill(
            keys=[self.keys.entry(slot.key)],
            args=[slot.variant, lease.token, entry.encode(), ttl_ms, lease.invalidations],
        )
        return bool(stored)

    async def release(self, slot: Slot, lease: Lease) -> None:
        await self._release(keys=[self.keys.entry(slot.key)], args=[slot.variant, lease.token])

    async def invalidate(self, keys: Iterable[CacheKey], now_ms: int) -> int:
        """Drop entries (every variant, every lease) in one pipelined round trip; families
        that may be served stale are marked stale instead. Returns how many entries.

        On a standalone Redis that is one multi-key `UNLINK` and one `MARK_STALE_ALL` call
        whatever the number of keys; on a cluster (keys in many hash slots) one `UNLINK` and
        one `EVALSHA` of `MARK_STALE` per key, each on one key (the script is loaded again on
        the node that answers NOSCRIPT)."""
        dropped: set[str] = set()
        marked: set[str] = set()
        for key in keys:
            (marked if POLICIES[key.family].serve_stale else dropped).add(self.keys.entry(key))
        if not (dropped or marked):
            return 0
        if isinstance(self.redis, RedisCluster):
            await self._invalidate_each(dropped, marked, now_ms)
        else:
            await self._invalidate_together(dropped, marked, now_ms)
        return len(dropped) + len(marked)

    async def _invalidate_together(self, dropped: set[str], marked: set[str], now_ms: int) -> None:
        # Queued with `execute_command`, which both pipeline kinds queue at once (a registered
        # script called with `client=pipe` is a coroutine on a cluster pipeline, and an
        # unawaited one silently queues nothing; on a standalone one it adds a round trip).
        pipe = self.redis.pipeline(transaction=False)
        if dropped:
            pipe.execute_command("UNLINK", *dropped)
        if marked:
            pipe.execute_command("EVAL", scripts.MARK_STALE_ALL, len(marked), *marked, now_ms)
        await pipe.execute()

    async def _invalidate_each(self, dropped: set[str], marked: set[str], now_ms: int) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for name in dropped:
            pipe.execute_command("UNLINK", name)
        stale = list(marked)
        for name in stale:
            pipe.execute_command("EVALSHA", scripts.MARK_STALE_SHA, 1, name, now_ms)
        replies = await pipe.execute(raise_on_error=False)
        unloaded = []
        for index, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                unloaded.append(stale[index - len(dropped)])
            elif isinstance(reply, Exception):
                raise reply
        if unloaded:  # EVAL runs the script and loads it on those nodes for the next time
            pipe = self.redis.pipeline(transaction=False)
            for name in unloaded:
                pipe.execute_command("EVAL", scripts.MARK_STALE, 1, name, now_ms)
            await pipe.execute()

    async def retire(self, families: Iterable[Family]) -> None:
        """Bump family generations: every existing entry of those families stops being valid
        at once, however many there are (O(1) per family, no KEYS, no SCAN)."""
        pipe = self.redis.pipeline(transaction=False)
        for family in families:
            pipe.incr(self.keys.generation(family))
        await pipe.execute()

    async def retire_all(self) -> None:
        await self.retire(POLICIES)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())
