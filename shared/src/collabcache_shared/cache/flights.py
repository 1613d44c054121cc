"""An in-process load of one cache slot that concurrent requests may share (README, "The
fenced cache protocol", point 4)."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Flight(Generic[T]):
    """One in-process load of a slot, and the requests waiting for it.

    `round` counts the Redis calls that could certify the result (a fill, a lookup); a request
    that joined at round r may use the result only if it was certified at round r or later,
    i.e. by a call sent after it joined."""

    __slots__ = ("certified_round", "future", "round")

    def __init__(self) -> None:
        self.future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.round = 0
        self.certified_round = -1

    def next_round(self) -> int:
        self.round += 1
        return self.round - 1

    def certify(self, round_: int) -> None:
        self.certified_round = round_
