"""A background task that repeats rounds (a read and its batch, a claim and its batch) until
stopped.

Stopping lets the round in flight finish, up to a grace period, before the task is cancelled:
a round cancelled between its transaction and its bookkeeping would have applied a batch its
counters never saw. A cancellation absorbed on the way (the loop survives any failure of a
round) is repeated until the task is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from ..background import cancel_until_done

STOP_RETRY_SECONDS = 0.5
GRACE_SECONDS = 5.0


class Rounds:
    def __init__(self, name: str, *, grace_seconds: float = GRACE_SECONDS) -> None:
        self.name = name
        self.grace_seconds = grace_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, run: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run `run` (a loop over `stopping`) in a task; False when one already runs."""
        if self._task is not None:
            return False
        self._stop = asyncio.Event()  # bound to the loop the task runs on
        self._task = asyncio.create_task(run(), name=self.name)
        return True

    async def rest(self, seconds: float) -> None:
        """Sleep between rounds; cut short by `stop`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        await asyncio.wait({task}, timeout=self.grace_seconds)
        await cancel_until_done([task], retry_seconds=STOP_RETRY_SECONDS)


class Repeating:
    """A loop run as a `Rounds` task: `run` repeats its round while `rounds.stopping` is
    false, resting between rounds with `rounds.rest`."""

    def __init__(self, name: str) -> None:
        self.rounds = Rounds(name)

    @property
    def running(self) -> bool:
        return self.rounds.running

    def start(self) -> None:
        self.rounds.start(self.run)

    async def stop(self) -> None:
        """The round in flight finishes (up to the grace period); no other begins."""
        await self.rounds.stop()

    async def run(self) -> None:
        raise NotImplementedError
