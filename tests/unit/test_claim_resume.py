"""The claim loop gets the subscriber reading again once Redis answers after it was lost
(unreachable, or restarted without the consumer group), and only then."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from collabcache_invalidator.claims import SCAN_START, ClaimLoop, resume_consuming
from collabcache_invalidator.metrics import InvalidatorMetrics
from collabcache_invalidator.settlement import Settlement
from collabcache_invalidator.streams import ClaimBatch, Claimed
from tests.invalidator_support import RecordingStreamOps

NOGROUP = ResponseError("NOGROUP No such key 'cc:stream:domain-events' or consumer group")


class ScriptedClaims:
    """XAUTOCLAIM answering each round from a script: an exception to raise, or nothing."""

    def __init__(self, *script: Exception | None) -> None:
        self.script = list(script)
        self.rounds = 0
        self.enough = asyncio.Event()
        self.wanted = 0

    async def claim(self, cursor: bytes, min_idle_ms: int, count: int) -> ClaimBatch:
        self.rounds += 1
        if self.rounds >= self.wanted:
            self.enough.set()
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        return ClaimBatch(SCAN_START, [], 0)


class Resumes:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.attempts = 0

    async def __call__(self) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise RedisConnectionError("still down")


async def _nothing(entries: Sequence[Claimed]) -> None:
    return None


async def _rounds(claims: ScriptedClaims, resume: Resumes, rounds: int) -> None:
    metrics = InvalidatorMetrics()
    loop = ClaimLoop(
        claims,
        Settlement(RecordingStreamOps(), 3, metrics),
        _nothing,
        metrics,
        min_idle_ms=10,
        interval_seconds=0.001,
        batch_size=10,
        resume=resume,
    )
    claims.wanted = rounds
    loop.start()
    await asyncio.wait_for(claims.enough.wait(), 5)
    await loop.stop()


@pytest.mark.parametrize("lost", [RedisConnectionError("refused"), OSError("reset"), NOGROUP])
async def test_once_redis_is_lost_the_subscriber_is_resumed_once(lost: Exception) -> None:
    resume = Resumes()
    await _rounds(ScriptedClaims(lost), resume, rounds=5)
    assert resume.attempts == 1


async def test_a_resume_that_fails_is_tried_again_next_round() -> None:
    resume = Resumes(failures=2)  # Redis still away for two more rounds
    await _rounds(ScriptedClaims(RedisConnectionError("refused")), resume, rounds=6)
    assert resume.attempts == 3


async def test_other_claim_failures_never_restart_the_subscriber() -> None:
    resume = Resumes()
    other = ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    await _rounds(ScriptedClaims(ValueError("a bug"), other), resume, rounds=5)
    assert resume.attempts == 0


class Subscriber:
    def __init__(self, running: bool) -> None:
        self.running = running
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")
        self.running = True

    async def stop(self) -> None:
        self.calls.append("stop")
        self.running = False


class Group:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    async def ensure_group(self) -> bool:
        self.calls.append("ensure_group")
        return True


@pytest.mark.parametrize("running", [True, False], ids=["sleeping", "stopped"])
async def test_resuming_recreates_the_group_first_then_restarts_the_subscriber(
    running: bool,
) -> None:
    subscriber = Subscriber(running)
    await resume_consuming(Group(subscriber.calls), subscriber)()
    expected = ["ensure_group", "stop", "start"] if running else ["ensure_group", "start"]
    assert subscriber.calls == expected
    assert subscriber.running
