"""A claim loop's rounds: stopping lets the round in flight finish (its batch applied and
counted), cancels one that overruns the grace period, and ends the rest between rounds at once."""

from __future__ import annotations

import asyncio
import time

from collabcache_shared.streams.rounds import Rounds


class SlowRounds:
    """Each round takes `seconds`, and records whether it got to its bookkeeping."""

    def __init__(self, rounds: Rounds, seconds: float, rest: float = 0.0) -> None:
        self.rounds = rounds
        self.seconds = seconds
        self.rest = rest
        self.begun = asyncio.Event()
        self.started = 0
        self.finished = 0

    async def run(self) -> None:
        while not self.rounds.stopping:
            self.started += 1
            self.begun.set()
            await asyncio.sleep(self.seconds)  # the round's transaction
            self.finished += 1  # its counters
            await self.rounds.rest(self.rest)


async def test_a_round_in_flight_at_stop_finishes_and_no_other_begins() -> None:
    rounds = Rounds("test", grace_seconds=5.0)
    loop = SlowRounds(rounds, seconds=0.2)
    rounds.start(loop.run)
    await loop.begun.wait()

    await rounds.stop()

    assert (loop.started, loop.finished) == (1, 1)
    assert not rounds.running


async def test_a_round_overrunning_the_grace_period_is_cancelled() -> None:
    rounds = Rounds("test", grace_seconds=0.1)
    loop = SlowRounds(rounds, seconds=30.0)
    rounds.start(loop.run)
    await loop.begun.wait()

    began = time.monotonic()
    await rounds.stop()

    assert time.monotonic() - began < 2.0
    assert (loop.started, loop.finished) == (1, 0)


async def test_the_rest_between_rounds_ends_at_stop() -> None:
    rounds = Rounds("test", grace_seconds=5.0)
    loop = SlowRounds(rounds, seconds=0.0, rest=30.0)
    rounds.start(loop.run)
    await loop.begun.wait()
    await asyncio.sleep(0.05)  # resting now

    began = time.monotonic()
    await rounds.stop()

    assert time.monotonic() - began < 1.0
    assert loop.started == loop.finished == 1


async def test_a_loop_that_absorbs_a_cancellation_still_ends() -> None:
    rounds = Rounds("test", grace_seconds=0.05)
    absorbed = 0

    async def stubborn() -> None:
        nonlocal absorbed
        while True:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                absorbed += 1
                if absorbed == 1:
                    continue  # swallowed once, as a round's broad handler might
                raise

    rounds.start(stubborn)
    await asyncio.sleep(0.01)
    await rounds.stop()

    assert absorbed == 2
    assert not rounds.running


async def test_a_second_start_while_running_is_refused() -> None:
    rounds = Rounds("test")
    loop = SlowRounds(rounds, seconds=0.01, rest=0.01)
    assert rounds.start(loop.run)
    assert not rounds.start(loop.run)
    await rounds.stop()
    assert rounds.start(loop.run)  # and allowed again once stopped
    await rounds.stop()
