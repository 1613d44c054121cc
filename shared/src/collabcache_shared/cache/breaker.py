"""A circuit breaker in front of Redis: a dead or slow Redis costs a request nothing.

Closed: calls go through; `failure_threshold` consecutive failures open it. Open: calls are
skipped (the caller answers from the database) until `reset_after` seconds pass. Half-open:
one probe is allowed; success closes the breaker, failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 3,
        reset_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_after:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """May a call go to Redis now? In half-open state only one probe at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> bool:
        """Returns True when this success closes a breaker that was open (a recovery)."""
        recovered = self._opened_at is not None
        self._failures = 0
        self._opened_at = None
        self._probing = False
        return recovered

    def trip(self) -> None:
        """Open now, whatever the count (an invalidation was missed)."""
        self._opened_at = self._clock()
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
