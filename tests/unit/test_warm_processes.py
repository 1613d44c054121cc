"""A warm in several processes (`warming.processes`): the shares cover the fills once each,
hottest first; a child's counts reach the parent; a child that dies fails its whole share."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence

import pytest

from collabcache_api.warming import processes
from collabcache_api.warming.hot_set import Fill
from collabcache_api.warming.run import WarmReport
from collabcache_shared.cache.batch import Ending


async def _never(*_: object) -> list[Ending]:
    raise AssertionError("a fill here is never run")


def _plan(n: int) -> list[Fill]:
    return [Fill(f"family-{i % 3}", i + 1, _never) for i in range(n)]


@pytest.mark.parametrize(("fills", "count"), [(0, 2), (1, 2), (7, 2), (10, 3), (5, 8)])
def test_shares_cover_the_plan_once_each_in_its_order(fills: int, count: int) -> None:
    plan = _plan(fills)
    shares = processes.shares(plan, count)
    assert len(shares) == count
    flat = [one for share in shares for one in share]
    assert sorted(map(id, flat)) == sorted(map(id, plan))  # every fill, once
    for share in shares:  # each share keeps the list's order: hottest first
        assert share == sorted(share, key=plan.index)
    assert shares[0][:1] == plan[:1]  # the hottest fill starts at once


@pytest.mark.parametrize(("concurrency", "count"), [(8, 2), (5, 2), (3, 3), (9, 4), (1, 1)])
def test_the_fills_in_flight_together_are_the_concurrency(concurrency: int, count: int) -> None:
    limits = processes.in_flight(concurrency, count)
    assert sum(limits) == concurrency
    assert max(limits) - min(limits) <= 1
    assert min(limits) >= 1


async def _stuck(share: Sequence[Fill], on_filled: Callable[[int], object]) -> WarmReport:
    await asyncio.sleep(3600)  # a fill that never ends (a query stuck, say): it writes nothing
    raise AssertionError("never reached")


def test_a_parent_that_stops_early_stops_its_children() -> None:
    child = processes.fork(_plan(1), _stuck, [])
    try:
        processes.stop([child])
        assert child.closed
        deadline = time.monotonic() + 10
        while os.waitpid(child.pid, os.WNOHANG) == (0, 0):  # not exited yet
            assert time.monotonic() < deadline, "the child outlived its stopped parent"
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)


async def _filled(share: Sequence[Fill], on_filled: Callable[[int], object]) -> WarmReport:
    report = WarmReport()
    for one in share:
        for _ in range(one.size):  # an ending per entry, as `run.fill_share` counts them
            report.count(one.label, Ending.FILLED)
        on_filled(one.size)
    report.queries, report.database_seconds = 3, 0.5
    return report


async def _dies(share: Sequence[Fill], on_filled: Callable[[int], object]) -> WarmReport:
    on_filled(share[0].size)
    raise RuntimeError("the database went away")


@pytest.mark.parametrize(("fill_share", "ending"), [(_filled, "filled"), (_dies, "failed")])
async def test_a_forked_share_reports_its_counts_or_fails_whole(
    fill_share: processes.FillShare, ending: str
) -> None:
    share = _plan(4)
    child = processes.fork(share, fill_share, [])  # no loop of this test's is touched by it
    progress: list[int] = []
    await processes.gather([child], progress.append)
    processes.reap([child])
    report = WarmReport()
    processes.add_counts(report, [child])
    assert sum(progress) == (10 if ending == "filled" else 1)
    assert report.total(ending) == 1 + 2 + 3 + 4  # an ending per entry of the share
    assert report.queries == (3 if ending == "filled" else 0)
