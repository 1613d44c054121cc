"""Stream reads for tests, typed: redis-py types XRANGE and XREADGROUP replies loosely (unions
with `None` and `str`); a client that does not decode responses returns what these say."""

from __future__ import annotations

from typing import cast

from collabcache_shared.cache.store import AnyRedis

Fields = dict[bytes, bytes]
Entry = tuple[bytes, Fields]


async def entries(redis: AnyRedis, stream: str, *, after: str = "-") -> list[Entry]:
    """The stream's entries from `after` on (`(<id>` excludes that id), oldest first."""
    return cast(list[Entry], await redis.xrange(stream, min=after))


async def newest(redis: AnyRedis, stream: str, count: int) -> list[Entry]:
    """The stream's `count` newest entries, newest first."""
    return cast(list[Entry], await redis.xrevrange(stream, count=count))


async def read_group(
    redis: AnyRedis, group: str, consumer: str, stream: str, count: int | None = None
) -> list[Entry]:
    """New entries delivered to `consumer` of `group` (now pending to it), oldest first."""
    reply = cast(
        list[tuple[bytes, list[Entry]]],
        await redis.xreadgroup(group, consumer, {stream: ">"}, count=count),
    )
    return reply[0][1] if reply else []
