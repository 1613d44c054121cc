"""Freshness under faults: the history check of tests/history/ at longer durations.

Two API replicas and the invalidator as processes on a private `redis-server` and a fresh
database; four writers and ten readers over HTTP, each request through a random replica, for
each fault kind in turn (none, invalidator SIGSTOP and SIGKILL, Redis CLIENT PAUSE, SIGSTOP and
restart, an API replica SIGKILLed mid-write); every observation judged by the history checker
(tests/history/history.py): stale of checked, per fault kind. Nothing is asserted here.

The services run with the product's default timeouts (as a deployment would), not the test
suite's longer ones: `--test-timeouts` gives them tests/conftest.py's.

Usage: `uv run python -m bench.history [--profile smoke|quick|full] [--seconds N]`
(DATABASE_URL names the PostgreSQL server; a database is created and dropped). Outside smoke
the result goes to bench/results/history-<stamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import processes, support, tools
from tests.history.cluster import Cluster
from tests.history.faults import FAULTS
from tests.history.history import timeline
from tests.history.runner import KindResult, run_kind, table, timelines
from tests.integration.cache.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SECONDS_PER_KIND = {"smoke": 3.0, "quick": 20.0, "full": 40.0}
TEST_TIMEOUTS = {  # tests/conftest.py's, for a run comparable with the test's
    "REDIS_SOCKET_TIMEOUT": "0.5",
    "CACHE_OPERATION_TIMEOUT_SECONDS": "1.0",
    "REDIS_POOL_TIMEOUT": "1.0",
}
TIMELINES_KEPT = 20  # per fault kind, in the JSON
# The control: the same run with the write path's cache protocol off (no fence, no inline
# invalidation: README, "The fenced cache protocol"), which the checker must catch.
WITHOUT_PROTOCOL = {"CACHE_INVALIDATE_INLINE": "false"}


class SessionRedisServer(RedisServer):
    """tests/integration's server, started by bench/processes.py (under `bench.run`: in a
    session of its own, which a Ctrl-C does not reach; the orchestrator stops it)."""

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [tools.path("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        args += ["--logfile", str(self.directory / "redis.log"), *self.extra]
        self.process = processes.popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_until_answering()


async def _enter(cluster: Cluster) -> None:
    """`cluster.__enter__` in a thread (its database helpers run their own loop). A thread
    cannot be cancelled: when this is, it waits for the thread, then stops what it started."""
    entering = asyncio.ensure_future(asyncio.to_thread(cluster.__enter__))
    try:
        await asyncio.shield(entering)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # a failed __enter__ has stopped what it started
            await entering
            await asyncio.to_thread(cluster.__exit__, None, None, None)
        raise


async def main(
    profile: str = "quick",
    seconds: float | None = None,
    test_timeouts: bool = False,
    without_protocol: bool = False,
) -> dict[str, Any]:
    per_kind = seconds or SECONDS_PER_KIND[profile]
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    env = {**(TEST_TIMEOUTS if test_timeouts else {})}
    if without_protocol:
        env.update(WITHOUT_PROTOCOL)
    started = time.monotonic()
    results: list[KindResult] = []
    cluster = Cluster(admin, env=env)
    cluster.redis = SessionRedisServer(cluster.redis.directory)
    database = f"cc_history_{cluster.run_id}"  # Cluster's name for it: dropped if interrupted
    support.remember_database(admin, database)
    try:
        await _enter(cluster)
        try:
            for seed, kind in enumerate(FAULTS):
                print(f"  history: {kind} ({per_kind:g} s) ...", flush=True)
                results.append(await run_kind(cluster, kind, per_kind, seed))
        finally:
            await asyncio.to_thread(cluster.__exit__, None, None, None)
    finally:
        support.created.pop(database, None)
    print(table(results), flush=True)
    for result in results:
        if result.stale or result.applied_503:
            print(timelines(result, limit=5), flush=True)
    figures = _figures(profile, per_kind, test_timeouts, results, time.monotonic() - started)
    return {**figures, "without_protocol": without_protocol}


def _figures(
    profile: str, per_kind: float, test_timeouts: bool, results: list[KindResult], took: float
) -> dict[str, Any]:
    stale = sum(r.stale for r in results)
    applied = sum(r.applied_503 for r in results)
    checked = sum(r.checked for r in results)
    return {
        "profile": profile,
        "seconds_per_kind": per_kind,
        "timeouts": "tests/conftest.py" if test_timeouts else "product defaults",
        "kinds": {r.kind: r.figures() for r in results},
        "timelines": {r.kind: timelines(r, TIMELINES_KEPT) for r in results if r.stale},
        "first_stale": {
            r.kind: timeline(r.report.stale[0], r.history.t0) for r in results if r.stale
        },
        "table": table(results),
        "duration_s": round(took, 1),
        "targets": [
            {
                "name": "stale reads under faults (history check)",
                "target": "0 stale, 0 applied 503s",
                "measured": f"{stale} stale of {checked} checked, {applied} applied 503s "
                f"({len(results)} fault kinds x {per_kind:g} s)",
                "met": stale == 0 and applied == 0,
            }
        ],
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        "Freshness under faults: stale of checked, per fault kind "
        f"({result['seconds_per_kind']:g} s each, timeouts: {result['timeouts']})",
        "",
        result["table"],
    ]
    for kind, text in result.get("first_stale", {}).items():
        lines += ["", f"First stale read under {kind}:", "", "```", text, "```"]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=sorted(SECONDS_PER_KIND), default="quick")
    parser.add_argument("--seconds", type=float, help="per fault kind (beats --profile)")
    parser.add_argument("--test-timeouts", action="store_true", help="tests/conftest.py's")
    parser.add_argument(
        "--without-protocol", action="store_true", help="the control: no fence, no inline drop"
    )
    args = parser.parse_args()
    outcome = asyncio.run(
        main(args.profile, args.seconds, args.test_timeouts, args.without_protocol)
    )
    print(report(outcome))
    if args.profile != "smoke":
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (RESULTS / f"history-{stamp}.json").write_text(json.dumps(outcome, indent=2))
