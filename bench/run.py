"""Every benchmark of issue 7 in one run: the comparative load scenarios (`bench.load`) and the
focused benchmarks (`bench.cache_latency`, `bench.invalidation_lag`, `bench.ceiling`,
`bench.memory`, and `bench.history`: freshness under faults), one summary, every target printed
as met / not met (never asserted).

Profiles: `smoke` (seconds, small dataset; writes nothing, what `make test` runs), `quick`
(`make bench`: every scenario at reduced duration, a few minutes on 2 cores) and `full`
(`make bench-full`: the plan's durations: normal 50 req/s for 10 min, peak 200 req/s for 5 min,
sustained 100 req/s for 30 min, after a 5-minute warming from a cold cache).

The load generator is open-loop asyncio (`bench/load/generator.py`), not Locust: Locust's
users are closed loops timed from the actual send, which hides coordinated omission.

Usage: `uv run python -m bench.run [--profile smoke|quick|full] [--parts load,...]`
(`--parts`: only those of load, cache_latency, invalidation_lag, write_latency, ceiling, memory,
history).
DATABASE_URL names the PostgreSQL server (each part creates and drops its own database). Outside
smoke the result goes to bench/results/bench-<stamp>.json; `python -m bench.report` renders
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from bench import report
from bench.load import runner
from bench.load.profiles import PROFILES
from bench.load.targets import collect

PARTS = frozenset(
    {"load", "cache_latency", "invalidation_lag", "write_latency", "ceiling", "memory", "history"}
)
RESULTS = Path(__file__).resolve().parent / "results"
# The focused benchmarks' arguments per profile: cache_latency(requests, smoke),
# invalidation_lag(rate, seconds, burst_count, smoke).
CACHE_LATENCY = {"smoke": (20, True), "quick": (60, False), "full": (400, False)}
WRITE_LATENCY = {"smoke": 8, "quick": 200, "full": 800}  # writes per variant and write
INVALIDATION_LAG = {
    "smoke": (50.0, 2.0, 500, True),
    "quick": (100.0, 8.0, 10_000, False),
    "full": (100.0, 60.0, 10_000, False),
}


async def _part(
    name: str, work: Awaitable[dict[str, Any]], notes: list[str]
) -> dict[str, Any] | None:
    started = time.monotonic()
    print(f"- {name} ...", flush=True)
    try:
        outcome = await work
    except Exception as exc:  # one part failing must not lose the others
        notes.append(f"{name} failed: {type(exc).__name__}: {exc}")
        print(f"  {name} FAILED: {exc!r}", flush=True)
        return None
    outcome["seconds"] = round(time.monotonic() - started, 1)
    print(f"  {name}: {outcome['seconds']} s", flush=True)
    return outcome


def _optional(module: str, notes: list[str]) -> Any | None:
    """B2's modules (bench.ceiling, bench.memory): skipped with a note when absent."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        notes.append(f"{module} is not there: skipped")
        print(f"  note: {module} is not there: skipped", flush=True)
        return None


async def main(profile: str, parts: frozenset[str] = PARTS) -> dict[str, Any]:
    from bench import cache_latency, invalidation_lag, write_latency

    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    started = time.monotonic()
    notes: list[str] = []
    result: dict[str, Any] = {
        "profile": profile,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    if "load" in parts:
        result["load"] = await _part("load", runner.main(PROFILES[profile], admin), notes)
    if "cache_latency" in parts:
        requests, smoke = CACHE_LATENCY[profile]
        latency = cache_latency.main(requests, smoke)
        result["cache_latency"] = await _part("cache_latency", latency, notes)
    if "invalidation_lag" in parts:
        rate, seconds, burst, smoke = INVALIDATION_LAG[profile]
        lag = invalidation_lag.main(rate, seconds, burst, smoke)
        result["invalidation_lag"] = await _part("invalidation_lag", lag, notes)
    if "write_latency" in parts:
        writes = write_latency.main(WRITE_LATENCY[profile])
        result["write_latency"] = await _part("write_latency", writes, notes)
    for name in ("ceiling", "memory", "history"):
        module = _optional(f"bench.{name}", notes) if name in parts else None
        if module is not None:
            result[name] = await _part(name, module.main(profile), notes)
    notes += [f"{name}: not run (--parts)" for name in sorted(PARTS - parts)]
    result["targets"] = collect(result)
    result["notes"] = notes
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result


def write(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
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
    outcome = asyncio.run(main(args.profile, chosen))
    print()
    print(report.summary(outcome))
    if args.output is not None:
        args.output.write_text(json.dumps(outcome, indent=2))
    if args.profile != "smoke":
        print(f"\nwritten: {write(outcome)} (render: python -m bench.report)")
