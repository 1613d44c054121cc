"""A circuit breaker in front of Redis: a dead or slow Redis costs a request nothing.

Closed: calls go through; `failure_threshold` consecutive failures open it. Open: calls are
skipped (the caller answers from the database) until `reset_after` seconds pass. Half-open:
one probe is allowed; success closes the breaker, failure opens it again. A probe that never
reports back (its caller was cancelled) is given up after another `reset_after`.
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
        self._probe_started: float | None = None

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
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight():
            self._probe_started = self._clock()
            return True
        return False

    def _probe_in_flight(self) -> bool:
        started = self._probe_started
        return started is not None and self._clock() - started < self.reset_after

    def record_success(self) -> bool:
        """Returns True when this success closes a breaker that was open (a recovery)."""
        recovered = self._opened_at is not None
        self._failures = 0
        self._opened_at = None
        self._probe_started = None
        return recovered

    def record_failure(self) -> None:
        self._failures += 1
        self._probe_started = None
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
