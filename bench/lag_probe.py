"""Commit -> cache entry gone, write by write, at a steady rate.

Each target is a comment and the STUDY_COMMENTS entry of its study, which a change to the
comment drops (`collabcache_shared.invalidation`). An entry is warmed by writing it straight into
Redis under the deployment's key name (what a cached GET stores there, as far as the invalidator
can tell: it UNLINKs the key). Each write updates the comment of a target whose entry is warm and
records when its commit returned; a thread subscribed to the keyevent `del` channel records when
each entry went. A target is written again only once its entry went and was warmed again, so
every deletion belongs to exactly one write.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis
import redis.asyncio as aioredis

from bench.pipeline_stack import DELETED_CHANNEL
from collabcache_shared.cache.entry import DATA
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace

UPDATE_COMMENT = "UPDATE comments SET body = $2 WHERE id = $1"
ENTRY_TTL_MS = 3_600_000


@dataclass(frozen=True)
class Target:
    comment_id: uuid.UUID
    study_id: uuid.UUID
    key: str  # the Redis key of the study's STUDY_COMMENTS entry


@dataclass
class Write:
    number: int
    target: Target
    sent: float  # time.monotonic() when the UPDATE was sent
    committed: float | None = None  # ... when its commit returned
    deleted: float | None = None  # ... when the entry's deletion was announced

    @property
    def lag_ms(self) -> float | None:
        if self.committed is None or self.deleted is None:
            return None
        return (self.deleted - self.committed) * 1000


async def targets(db: asyncpg.Pool, keyspace: KeySpace, limit: int) -> list[Target]:
    """One comment per study, for up to `limit` studies."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (study_id) id, study_id FROM comments ORDER BY study_id, id LIMIT $1",
        limit,
    )
    return [
        Target(
            r["id"],
            r["study_id"],
            keyspace.entry(CacheKey.of(Family.STUDY_COMMENTS, r["study_id"])),
        )
        for r in rows
    ]


async def warm(client: aioredis.Redis, keys: Sequence[str]) -> None:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hset(key, DATA + "bench", b"cached")
        pipe.pexpire(key, ENTRY_TTL_MS)
    await pipe.execute()


class DeletionWatch:
    """A thread on its own connection, subscribed to deletions: hands each deleted key and the
    time it was announced to `on_deleted`, in the event loop."""

    def __init__(
        self,
        url: str,
        loop: asyncio.AbstractEventLoop,
        on_deleted: Callable[[str, float], None],
    ) -> None:
        self._client = redis.Redis.from_url(url)
        self._pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
        self._loop = loop
        self._on_deleted = on_deleted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deletion-watch", daemon=True)

    def start(self) -> None:
        self._pubsub.subscribe(DELETED_CHANNEL)
        while (self._pubsub.get_message(timeout=1.0) or {}).get("type") != "subscribe":
            pass
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message and message["type"] == "message":
                at = time.monotonic()
                self._loop.call_soon_threadsafe(self._on_deleted, message["data"].decode(), at)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pubsub.close()
        self._client.close()


class SteadyWrites:
    """Writes at a fixed rate (open loop: a slow commit does not delay the next write)."""

    def __init__(self, db: asyncpg.Pool, client: aioredis.Redis, pool: Sequence[Target]) -> None:
        self.db = db
        self.client = client
        self.free: deque[Target] = deque(pool)
        self.in_flight: dict[str, Write] = {}
        self.writes: list[Write] = []
        self.skipped = 0  # scheduled writes with no warm target free (lag > targets / rate)
        self.unexpected = 0  # deletions of an entry no write was waiting for
        self.elapsed = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    def deleted(self, key: str, at: float) -> None:
        write = self.in_flight.pop(key, None)
        if write is None:
            self.unexpected += 1
            return
        write.deleted = at
        self._spawn(self._rewarm(write.target))

    async def _rewarm(self, target: Target) -> None:
        await warm(self.client, [target.key])
        self.free.append(target)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, rate: float, seconds: float) -> None:
        started = time.monotonic()
        for number in range(round(rate * seconds)):
            delay = started + number / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self.free:
                self.skipped += 1
                continue
            target = self.free.popleft()
            write = Write(number, target, time.monotonic())
            self.in_flight[target.key] = write
            self.writes.append(write)
            self._spawn(self._write(write))
        self.elapsed = time.monotonic() - started

    async def _write(self, write: Write) -> None:
        await self.db.execute(UPDATE_COMMENT, write.target.comment_id, f"write {write.number}")
        write.committed = time.monotonic()

    async def close(self) -> None:
        """What is still in flight cancelled: the run is over (or was cancelled by Ctrl-C)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, grace: float) -> None:
        """Wait for the entries of the last writes to go (at most `grace` seconds)."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not (self.in_flight or self._tasks):
                return
            await asyncio.sleep(0.01)
