"""A read's `LOOKUP` on a standalone Redis, packed once and sent on a pooled connection
without redis-py's command layer (README, "The hit path").

A lookup is the one Redis call of a cache hit, and redis-py's generic `execute_command`
(retry wrapper, observability hooks, argument encoding and RESP packing per call) cost about
as much as the rest of the hit. `Lookup` holds the command's bytes, made once for the slots
(the hit path keeps them per route, ids, caller and page); `send` writes them on a pooled
connection and reads the reply, with the connection's own checks (health check, timeouts,
dropping a connection that failed mid-command). What redis-py's call would have done better
is left to it: a server that does not know the script (NOSCRIPT) or a pooled connection
found broken is answered through the registered script, which loads the script and retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from .store import Slot

# Answered by the registered script instead (it loads the script, and retries a connection).
HANDED_BACK = (NoScriptError, RedisConnectionError)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one `LOOKUP` call reads (`slots`, in order) and sends."""

    slots: tuple[Slot, ...]
    command: bytes  # EVALSHA in RESP; empty where it is not sent directly (a cluster)


def resp(*args: bytes) -> bytes:
    """A command in the Redis protocol (RESP): an array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def evalsha(sha: str, keys: Sequence[str], args: Sequence[str]) -> bytes:
    encoded = [value.encode() for value in (*keys, *args)]
    return resp(b"EVALSHA", sha.encode(), b"%d" % len(keys), *encoded)


async def send(redis: Redis, command: bytes) -> Any | None:
    """The reply to `command`, sent on a connection of `redis`'s pool; None when the server
    or the connection leaves it to the registered script (HANDED_BACK). Not getting a
    connection at all (the pool exhausted, the server down) raises: the script would wait for
    one again."""
    pool = redis.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await connection.send_packed_command(command)
        return await connection.read_response()
    except HANDED_BACK:
        return None
    finally:
        await pool.release(connection)
