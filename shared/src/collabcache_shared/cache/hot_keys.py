"""Which entries are hot: the algorithm alone (README, "Refresh-ahead"), no backend inside.

`HotKeys` counts reads per entry in a table of fixed size, halving every count each `period`
(entries whose count reaches zero leave), so what it calls hot is what was read often lately:
at least `threshold` reads, where a read `period` ago counts half. A new entry finds no room
while the table is full and waits for the next halving: memory and the work per read stay
bounded whatever the traffic. With each entry it keeps how to load it again (`how`, the latest
reader's), which the caller uses after a write dropped it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(slots=True)
class _Count(Generic[T]):
    reads: float
    how: T


class HotKeys(Generic[K, T]):
    def __init__(
        self,
        capacity: int,
        threshold: float,
        period_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.threshold = threshold
        self.period_s = period_s
        self.clock = clock
        self._counts: dict[K, _Count[T]] = {}
        self._halved_at = clock()

    def note(self, key: K, how: T) -> None:
        """One read of `key`; `how` loads it again."""
        count = self._counts.get(key)
        if count is not None:
            count.reads += 1
            count.how = how
        elif len(self._counts) < self.capacity:
            self._counts[key] = _Count(1.0, how)
        if self.clock() - self._halved_at >= self.period_s:
            self._halve()

    def hot(self, keys: Iterable[K]) -> list[tuple[K, T]]:
        """Those of `keys` that are hot, hottest first, each with how to load it again."""
        found = [(key, self._counts.get(key)) for key in keys]
        hot = [(key, count) for key, count in found if count and count.reads >= self.threshold]
        hot.sort(key=lambda pair: -pair[1].reads)
        return [(key, count.how) for key, count in hot]

    def __len__(self) -> int:
        return len(self._counts)

    def _halve(self) -> None:
        self._halved_at = self.clock()
        for key, count in list(self._counts.items()):
            count.reads /= 2
            if count.reads < 0.5:
                del self._counts[key]
