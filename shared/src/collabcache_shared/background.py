"""Stopping background tasks for good.

A cancellation can be absorbed on the way (a library call that catches it, or Python 3.11's
`asyncio.timeout` expiring as the cancel arrives): the task then goes on, and a plain
`await task` after `task.cancel()` waits forever. A shutdown that must end cancels again
until the tasks are done, up to a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from typing import Any

log = logging.getLogger(__name__)
RETRY_SECONDS = 0.5
DEADLINE_SECONDS = 10.0


async def cancel_until_done(
    tasks: Collection[asyncio.Task[Any]],
    *,
    retry_seconds: float = RETRY_SECONDS,
    deadline_seconds: float = DEADLINE_SECONDS,
) -> bool:
    """Cancel `tasks` and wait for them, cancelling again every `retry_seconds`; False when
    some still run after `deadline_seconds` (they are left behind, and logged)."""
    deadline = time.monotonic() + deadline_seconds
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - time.monotonic()
        if left <= 0:
            log.warning(
                "background tasks still running at shutdown: %s",
                sorted(task.get_name() for task in pending),
            )
            return False
        _, pending = await asyncio.wait(pending, timeout=min(retry_seconds, left))
    for task in tasks:  # retrieve the outcomes: nothing logged as "never retrieved"
        if task.done() and not task.cancelled():
            task.exception()
    return True
