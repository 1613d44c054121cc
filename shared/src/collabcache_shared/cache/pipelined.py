"""One script run on many entries in one round trip: an `EVALSHA` per entry, pipelined (each
call is the very script a single call runs, so its semantics are unchanged); a node that
answers NOSCRIPT runs it once more with `EVAL`, which loads it there."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError


async def run_each(
    redis: Any, script: str, calls: Sequence[tuple[str, Sequence[Any]]]
) -> list[Any]:
    """The replies of `script` run on each (key, args), in order."""
    if not calls:
        return []
    sha = hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()
    # `execute_command`: both pipeline kinds (standalone, cluster) queue it at once.
    pipe = redis.pipeline(transaction=False)
    for key, args in calls:
        pipe.execute_command("EVALSHA", sha, 1, key, *args)
    replies = list(await pipe.execute(raise_on_error=False))
    unloaded = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    for reply in replies:
        if isinstance(reply, Exception) and not isinstance(reply, NoScriptError):
            raise reply
    if unloaded:
        pipe = redis.pipeline(transaction=False)
        for i in unloaded:
            key, args = calls[i]
            pipe.execute_command("EVAL", script, 1, key, *args)
        for i, reply in zip(unloaded, await pipe.execute(), strict=True):
            replies[i] = reply
    return replies
