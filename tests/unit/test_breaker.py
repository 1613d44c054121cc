"""The circuit breaker in front of Redis, on a fake clock: when it opens, when it lets a probe
through, how it recovers, and that it never stays open for good."""

from __future__ import annotations

import pytest

from collabcache_shared.cache.breaker import BreakerState, CircuitBreaker

RESET = 1.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_after=RESET, clock=clock)


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state  # read afresh each time (the clock moves it)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure()


def test_starts_closed_and_lets_every_call_through(breaker: CircuitBreaker) -> None:
    assert state(breaker) is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(10))


def test_opens_at_the_threshold_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    assert state(breaker) is BreakerState.CLOSED and breaker.allow()
    fail(breaker, 1)
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()


def test_a_success_resets_the_failure_count(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    assert breaker.record_success() is False  # closed all along: not a recovery
    fail(breaker, 2)
    assert state(breaker) is BreakerState.CLOSED


def test_stays_open_until_the_reset_period_has_passed(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(RESET - 0.001)
    assert state(breaker) is BreakerState.OPEN and not breaker.allow()
    clock.advance(0.001)
    assert state(breaker) is BreakerState.HALF_OPEN


def test_half_open_lets_exactly_one_probe_through(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(RESET)
    assert breaker.allow()
    assert not breaker.allow()  # the probe is in flight: everyone else bypasses
    assert not breaker.allow()


def test_a_successful_probe_closes_it_and_reports_the_recovery(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(RESET)
    assert breaker.allow()
    assert breaker.record_success() is True
    assert state(breaker) is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(5))
    fail(breaker, 2)  # and the count starts again from zero
    assert state(breaker) is BreakerState.CLOSED


def test_a_failed_probe_opens_it_for_another_full_period(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(RESET)
    assert breaker.allow()
    breaker.record_failure()  # one failure is enough once open
    assert state(breaker) is BreakerState.OPEN
    clock.advance(RESET - 0.001)
    assert not breaker.allow()
    clock.advance(0.001)
    assert breaker.allow()


def test_a_late_failure_while_open_restarts_the_wait(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(0.9)
    breaker.record_failure()  # a call that began before the breaker opened
    clock.advance(0.2)
    assert state(breaker) is BreakerState.OPEN


def test_a_lost_probe_does_not_keep_the_breaker_open_for_good(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """A probe whose caller never reports back (its request was cancelled mid-probe) must
    not leave the cache off for the life of the process: after another reset period a new
    probe is allowed."""
    fail(breaker, 3)
    clock.advance(RESET)
    assert breaker.allow()  # ...and this caller vanishes without a word
    clock.advance(RESET / 2)
    assert not breaker.allow()  # still a probe in flight
    clock.advance(RESET / 2)
    assert breaker.allow()
    assert breaker.record_success() is True
    assert state(breaker) is BreakerState.CLOSED
