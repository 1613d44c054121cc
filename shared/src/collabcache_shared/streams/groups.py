"""A worker's membership of a stream's consumer group: created from the stream's start, and
left cleanly at shutdown so restarts do not pile up dead consumer names in XINFO CONSUMERS.

Leaving waits until the subscribers' reads have ended: FastStream cancels its reading tasks
without awaiting them, and an XREADGROUP still reaching Redis after XGROUP DELCONSUMER would
put the consumer back in the group for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol

from redis.exceptions import ResponseError

from collabcache_shared.cache.store import AnyRedis

READS_END_SECONDS = 5.0  # how long a stopping worker waits for its cancelled reads


class ReadsInTasks(Protocol):
    tasks: list[asyncio.Task[Any]]  # FastStream's subscribers (TasksMixin)


async def create_group_from_start(redis: AnyRedis, stream: str, group: str) -> bool:
    """Create the group (and the stream) from id 0, so nothing published before the first
    consumer ran is skipped; True when it was created now."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        return False
    return True


def reading_tasks(subscribers: Iterable[ReadsInTasks]) -> list[asyncio.Task[Any]]:
    """The subscribers' reading tasks, noted before the broker stops (and forgets them)."""
    return [task for subscriber in subscribers for task in subscriber.tasks]


async def reads_ended(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait (up to READS_END_SECONDS) until the cancelled reading tasks are done."""
    if tasks:
        await asyncio.wait(tasks, timeout=READS_END_SECONDS)


async def leave_group(redis: AnyRedis, stream: str, group: str, consumer: str) -> bool:
    """Remove `consumer` from the group if it holds no pending entry (those stay for another
    consumer's claim); False when it stayed, or there was no group to leave."""
    try:
        pending = await redis.xpending_range(
            stream, group, min="-", max="+", count=1, consumername=consumer
        )
    except ResponseError as exc:
        if "NOGROUP" in str(exc):  # stopped before the group was made: nothing to leave
            return False
        raise
    if pending:
        return False
    await redis.xgroup_delconsumer(stream, group, consumer)
    return True
