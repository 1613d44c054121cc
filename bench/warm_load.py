"""The warm command under load (README, "Cache warming"): a variant's API (a private Redis,
cold cache) serves the load profile's open-loop mix at a fixed rate; a few seconds in, the
`warm` command runs against the same database and Redis, as an operator would. Reports the
warm's own report (what it filled, seconds, database cost) and the latency of the requests
sent while it ran, beside those sent before it.

    uv run python -m bench.warm_load DATABASE_URL [--variant collabcache] [--rate 50] [-- ARGS]

DATABASE_URL: a database seeded with `python -m collabcache_api.cli seed ...`; ARGS go to the
warm command. `--smoke`: a small database of its own (on the server of DATABASE_URL) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from bench.load import figures
from bench.load.generator import OpenLoop, Sample, Tokens
from bench.load.variants import VARIANTS, running
from bench.load.workload import Mix, snapshot
from bench.support import temporary_database
from collabcache_shared.settings import ApiSettings

MIX_SEED = 2000
LEAD_SECONDS = 5.0  # the load alone, before the warm starts
TAIL_SECONDS = 3.0  # the load after the warm ends
SMOKE_SEED = [
    "--orgs",
    "4",
    "--users",
    "40",
    "--teams",
    "5",
    "--studies",
    "12",
    "--comments",
    "150",
]


async def measure(
    database: str, variant_name: str, rate: float, warm_args: list[str]
) -> dict[str, Any]:
    variant = next(v for v in VARIANTS if v.name == variant_name)
    data = await snapshot(database)
    async with running(variant, database, ApiSettings().api_workers) as run:
        loop = OpenLoop(run.api.url, variant.cache_header, Tokens(), None)
        try:
            warmed = asyncio.Event()
            load = asyncio.create_task(_load(loop, Mix(data, MIX_SEED), rate, warmed))
            await asyncio.sleep(LEAD_SECONDS)
            clock = asyncio.get_running_loop()
            warm_from = clock.time()
            report = await _warm(run.api.env, warm_args)
            warm_to = clock.time()
            warmed.set()
            started, samples = await load
        finally:
            await loop.aclose()
    window = (warm_from - started, warm_to - started)
    during = [s for at, s in samples if window[0] <= at < window[1]]
    before = [s for at, s in samples if at < window[0]]
    return {
        "variant": variant_name,
        "rate_per_s": rate,
        "warm": report,
        "warm_window_s": [round(window[0], 1), round(window[1], 1)],
        "during_warm": figures.group(during),
        "before_warm": figures.group(before),
    }


async def _load(
    loop: OpenLoop, mix: Mix, rate: float, warmed: asyncio.Event
) -> tuple[float, list[tuple[float, Sample]]]:
    """The open loop in one-second rounds started on schedule (never waiting for the previous
    round's answers), until TAIL_SECONDS after the warm: (its start, [(offset, sample)])."""
    clock = asyncio.get_running_loop()
    started = clock.time()
    rounds: list[tuple[float, asyncio.Task[list[Sample]]]] = []
    tail_until: float | None = None
    while tail_until is None or clock.time() < tail_until:
        rounds.append((clock.time() - started, asyncio.create_task(loop.run(mix, rate, 1.0))))
        await asyncio.sleep(started + len(rounds) - clock.time())
        if tail_until is None and warmed.is_set():
            tail_until = clock.time() + TAIL_SECONDS
    samples = []
    for offset, task in rounds:
        samples += [(offset + s.offset_s, s) for s in await task]
    return started, samples


async def _warm(env: dict[str, str], args: list[str]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "collabcache_api.cli",
        "warm",
        "--json",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return report


async def _smoke(admin_url: str, variant: str) -> dict[str, Any]:
    async with temporary_database(admin_url, SMOKE_SEED) as database:
        return await measure(database, variant, 10.0, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database", nargs="?", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--smoke", action="store_true", help="a small database of its own")
    parser.add_argument("--variant", default="collabcache")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("warm_args", nargs="*", help="passed to the warm command")
    args = parser.parse_args()
    if args.smoke:
        result = asyncio.run(_smoke(args.database, args.variant))
    else:
        result = asyncio.run(measure(args.database, args.variant, args.rate, args.warm_args))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
