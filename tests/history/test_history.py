"""Never stale, checked black box: two API replicas, the invalidator and a private Redis as
processes, writers and readers over HTTP, under each fault kind in turn (tests/history/faults.py),
every observation judged by the history checker (tests/history/history.py).

README "Consistency guarantees, in plain words": when a write's response reaches you, every
later read, by anyone, on any replica, shows it; a write answered 503 changed nothing.
"""

from __future__ import annotations

import time

import pytest

from tests.history.cluster import Cluster
from tests.history.faults import FAULTS
from tests.history.runner import KindResult, run_kind, table, timelines

pytestmark = pytest.mark.timeout(150)

# Redis faults get longer: writes stall on Redis timeouts while they last, so fewer happen.
SECONDS = {"redis CLIENT PAUSE": 4.5, "redis SIGSTOP": 4.5, "redis restart": 4.0}
DEFAULT_SECONDS = 3.0
CHECKED_FLOOR = 1000  # observations judged per fault kind: a run that checks nothing fails


async def test_no_read_is_stale_under_any_fault(cluster: Cluster) -> None:
    started = time.monotonic()
    results: list[KindResult] = []
    for seed, kind in enumerate(FAULTS):
        seconds = SECONDS.get(kind, DEFAULT_SECONDS)
        results.append(await run_kind(cluster, kind, seconds, seed))
    print(f"\nhistory check, {time.monotonic() - started:.1f} s\n{table(results)}")
    for result in results:
        if result.stale or result.applied_503:
            print(timelines(result))
    assert [r.kind for r in results if r.checked < CHECKED_FLOOR] == []
    assert {r.kind: r.stale for r in results if r.stale} == {}
    assert {r.kind: r.applied_503 for r in results if r.applied_503} == {}
