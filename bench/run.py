"""Every benchmark (README, "Benchmarks") in one run: the comparative load scenarios
(`bench.load`) and the focused benchmarks (`bench.cache_latency`, `bench.invalidation_lag`,
`bench.ceiling`, `bench.memory`: Redis memory modelled, `bench.memory_100k`: measured on 100,000
users, and `bench.history`: freshness under faults), one summary, every target printed as met /
not met (never asserted).

Profiles: `smoke` (seconds, small dataset; writes nothing, what `make test` runs), `quick`
(`make bench`: every scenario at reduced duration, a few minutes on 2 cores) and `full`
(`make bench-full`: the full durations: normal 50 req/s for 10 min, peak 200 req/s for 5 min,
sustained 100 req/s for 30 min, after a 5-minute warming from a cold cache).

The load generator is open-loop asyncio (`bench/load/generator.py`), not Locust: Locust's
users are closed loops timed from the actual send, which hides coordinated omission.

Usage: `uv run python -m bench.run [--profile smoke|quick|full] [--parts load,...]`
(`--parts`: only those of load, cache_latency, invalidation_lag, write_latency, ceiling, memory,
memory_100k, history).
DATABASE_URL names the PostgreSQL server (each part creates and drops its own database). Outside
smoke the result goes to bench/results/bench-<stamp>.json (ignored by git: a result meant for the
docs is named in .gitignore with `!` and committed); `make bench-report` renders docs/benchmarks.md.

Before anything starts, the programs the chosen parts run (bench/tools.py: redis-server, wrk)
must be on PATH: a missing one ends the run at once, exit status 2. Ctrl-C stops the whole run:
the part in progress stops its servers and drops its databases, nothing is written, exit status
130; a second Ctrl-C kills at once (bench/interrupt.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import report, tools
from bench.interrupt import Interrupt
from bench.load import runner
from bench.load.profiles import PROFILES
from bench.load.targets import collect

PARTS = frozenset({"load", *report.FOCUSED})
RESULTS = Path(__file__).resolve().parent / "results"
INTERRUPT = Interrupt()  # installed by the command line only (`main` imported stays as it was)
# The focused benchmarks' arguments per profile: cache_latency(requests, smoke),
# invalidation_lag(rate, seconds, burst_count, smoke).
CACHE_LATENCY = {"smoke": (20, True), "quick": (60, False), "full": (400, False)}
REQUEST_CPU = {"smoke": 40, "quick": 800, "full": 4000}  # GETs per kind (writes: a quarter)
WRITE_LATENCY = {"smoke": 8, "quick": 200, "full": 800}  # writes per variant and write
INVALIDATION_LAG = {
    "smoke": (50.0, 2.0, 500, True),
    "quick": (100.0, 8.0, 10_000, False),
    "full": (100.0, 60.0, 10_000, False),
}


async def _part(
    name: str, work: Callable[[], Awaitable[dict[str, Any]]], notes: list[str]
) -> dict[str, Any] | None:
    INTERRUPT.part = name
    started = time.monotonic()
    print(f"- {name} ...", flush=True)
    try:
        outcome = await work()
    except Exception as exc:  # one part failing must not lose the others
        if INTERRUPT.count:  # it failed because Ctrl-C stopped it: the run stops
            raise asyncio.CancelledError from exc
        notes.append(f"{name} failed: {type(exc).__name__}: {exc}")
        print(f"  {name} FAILED: {exc!r}", flush=True)
        return None
    if INTERRUPT.count:  # it finished in spite of the Ctrl-C: the run stops all the same
        raise asyncio.CancelledError
    outcome["seconds"] = round(time.monotonic() - started, 1)
    print(f"  {name}: {outcome['seconds']} s", flush=True)
    return outcome


async def main(profile: str, parts: frozenset[str] = PARTS) -> dict[str, Any]:
    from bench import (
        cache_latency,
        ceiling,
        history,
        invalidation_lag,
        memory,
        memory_100k,
        request_cpu,
        write_latency,
    )

    INTERRUPT.attach()
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    started = time.monotonic()
    notes: list[str] = []
    result: dict[str, Any] = {
        "profile": profile,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    requests, smoke = CACHE_LATENCY[profile]
    rate, seconds, burst, lag_smoke = INVALIDATION_LAG[profile]
    # Each part's work made only when it starts: a part an interruption skips leaves nothing.
    works: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "load": lambda: runner.main(PROFILES[profile], admin),
        "cache_latency": lambda: cache_latency.main(requests, smoke),
        "invalidation_lag": lambda: invalidation_lag.main(rate, seconds, burst, lag_smoke),
        "write_latency": lambda: write_latency.main(WRITE_LATENCY[profile]),
        "ceiling": lambda: ceiling.main(profile),
        "request_cpu": lambda: request_cpu.main(
            REQUEST_CPU[profile],
            request_cpu.CLIENTS,
            seed_args=PROFILES[profile].seed_args,
        ),
        "memory": lambda: memory.main(profile),
        # The model beside the measurement: this run's, when the memory part ran before it.
        "memory_100k": lambda: memory_100k.main(profile, result.get("memory")),
        "history": lambda: history.main(profile),
    }
    for name, work in works.items():  # in this order
        if name in parts:
            result[name] = await _part(name, work, notes)
    notes += [f"{name}: not run (--parts)" for name in sorted(PARTS - parts)]
    result["targets"] = collect(result)
    result["notes"] = notes
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result


def write(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench-{time.strftime('%Y%m%dT%H%M%S')}.json"
    partial = path.with_suffix(".partial")  # a Ctrl-C while writing leaves no half a result
    partial.write_text(json.dumps(result, indent=2))
    partial.replace(path)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument(
        "--parts",
        default=",".join(sorted(PARTS)),
        help=f"comma-separated, any of {','.join(sorted(PARTS))} (default: all)",
    )
    parser.add_argument("--output", type=Path, help="also write the result here (any profile)")
    args = parser.parse_args()
    chosen = frozenset(p.strip() for p in args.parts.split(",") if p.strip())
    if chosen - PARTS:
        parser.error(f"unknown parts: {sorted(chosen - PARTS)}")
    absent = tools.missing(chosen)
    if absent:
        print(tools.problem(absent, chosen), file=sys.stderr)
        sys.exit(2)
    INTERRUPT.install()
    written: list[Path] = []
    try:
        outcome = asyncio.run(main(args.profile, chosen))
        if INTERRUPT.count:  # every part swallowed the cancellation
            raise KeyboardInterrupt
        print()
        print(report.summary(outcome))
        if args.output is not None:
            args.output.write_text(json.dumps(outcome, indent=2))
            written.append(args.output)
        if args.profile != "smoke":
            written.append(write(outcome))
            print(f"\nwritten: {written[-1]} (render: make bench-report)")
    except (asyncio.CancelledError, KeyboardInterrupt):
        if not INTERRUPT.count:
            raise
        INTERRUPT.finish(written)
