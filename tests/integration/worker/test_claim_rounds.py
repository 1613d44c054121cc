"""The kit's claim rounds on the run's real Redis: a pending list longer than a batch is taken
over batch after batch, entries trimmed from the stream before anyone settled them are
reported and not handed on, and a group not there yet is waited for quietly."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis

from collabcache_shared.streams.claims import Claimable, ClaimRounds
from collabcache_shared.streams.group import SCAN_START, Entry, GroupStream
from tests.integration.worker.conftest import names_of, publish

pytestmark = pytest.mark.integration


class Handed:
    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []

    async def __call__(self, entries: Sequence[Entry]) -> None:
        self.batches.append([e.id for e in entries])


def rounds_over(group: GroupStream, handed: Handed) -> tuple[ClaimRounds, Claimable]:
    claimable = Claimable(group, handed)
    return ClaimRounds([claimable], min_idle_ms=0, interval_seconds=1, batch_size=4), claimable


async def left_pending(redis: Redis, group: GroupStream, prefix: str, count: int) -> list[bytes]:
    await group.ensure_group()
    published = await publish(redis, group.names.stream, count)
    await GroupStream(redis, names_of(prefix, "crashed")).read_new(count=count, block_ms=10)
    return published


async def test_a_long_pending_list_is_taken_over_a_batch_a_round_from_where_it_stopped(
    group: GroupStream, redis: Redis, prefix: str
) -> None:
    published = await left_pending(redis, group, prefix, 10)
    handed = Handed()
    rounds, claimable = rounds_over(group, handed)

    counts = [await rounds.claim_once() for _ in range(3)]

    assert counts == [4, 4, 2]
    assert [i for batch in handed.batches for i in batch] == published
    assert claimable.cursor == SCAN_START  # the scan went round: the loop rests now


async def test_entries_trimmed_before_anyone_settled_them_are_reported_not_handed_on(
    group: GroupStream, redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    published = await left_pending(redis, group, prefix, 3)
    await redis.xtrim(group.names.stream, minid=published[2], approximate=False)
    handed = Handed()
    rounds, _ = rounds_over(group, handed)

    await rounds.claim_once()

    assert handed.batches == [[published[2]]]
    assert "2 pending" in caplog.text and "trimmed" in caplog.text


async def test_a_group_not_there_yet_is_waited_for_quietly(
    group: GroupStream, redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    handed = Handed()
    rounds, _ = rounds_over(group, handed)

    with caplog.at_level(logging.DEBUG):
        assert await rounds.claim_once() == 0  # its reader creates the group
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    published = await left_pending(redis, group, prefix, 2)
    assert await rounds.claim_once() == 2
    assert handed.batches == [published]
