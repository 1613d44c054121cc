"""The load scenarios: every variant, one after another, on one seeded database.

For each variant: a private redis-server and a fresh API process (cold cache), then the
profile's phases in order (warming from the cold cache, normal, peak, sustained), each with
the same seeded request mix; the oracle (a cache-off API on the same database) re-reads a
share of the GETs. Figures per phase, per endpoint and overall (the phases after warming).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.load import figures
from bench.load.generator import OpenLoop, Oracle, Sample, Tokens
from bench.load.profiles import Phase, Profile
from bench.load.variants import VARIANTS, Running, Variant, api_workers, oracle_api, running
from bench.load.workload import Dataset, Mix, snapshot
from bench.support import temporary_database
from collabcache_shared.settings import CacheSettings

MIX_SEED = 1000
WARM_UP_CALLS = 40  # GETs each API worker answers before the first phase
WARM_UP_AT_ONCE = 4
WARM_UP_ROUNDS = 200
WORKER_HEADER = "x-bench-worker"  # bench.apps.counting_api: the process that answered


async def _phase(
    run: Running,
    loop: OpenLoop,
    data: Dataset,
    index: int,
    phase: Phase,
    warm_args: tuple[str, ...] | None = None,
) -> tuple[list[Sample], dict[str, Any]]:
    """One phase of the mix at its rate; `warm_args`: the warm command runs meanwhile (README,
    "Cache warming"), and the phase lasts until it is done (at least its own seconds)."""
    run.cpu.start()
    started = time.monotonic()
    mix = Mix(data, MIX_SEED + index)
    warmed: dict[str, Any] | None = None
    if warm_args is not None:
        warm = asyncio.create_task(warm_command(run.api.env, warm_args))
        samples = await loop.run_while(mix, phase.rate, phase.seconds, warm)
        report, warm_s = await warm
        during = [s for s in samples if s.offset_s < warm_s]
        warmed = {"seconds": round(warm_s, 1), "report": report, "during": figures.group(during)}
    else:
        samples = await loop.run(mix, phase.rate, phase.seconds)
    seconds = time.monotonic() - started
    counted = {
        "reads_per_request": figures.reads_per_request(samples),
        "background_reads": figures.background_reads(samples),
        "cpu_seconds": run.cpu.stop(seconds),
    }
    if warmed is not None:
        counted["warm"] = warmed
    return samples, counted


async def warm_command(env: dict[str, str], args: tuple[str, ...]) -> tuple[dict[str, Any], float]:
    """`collabcache_api.cli warm --json` against a variant's database and Redis, as an operator
    runs it: its report, and its wall time from launch (the process's start included)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collabcache_api.cli", "warm", "--json", "--no-progress", *args,
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        return {"error": f"warm exited {process.returncode}"}, seconds
    report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return report, seconds


async def run_variant(
    variant: Variant, run: Running, data: Dataset, profile: Profile, oracle: Oracle
) -> dict[str, Any]:
    started = time.monotonic()
    tokens, bound = Tokens(), CacheSettings().stale_bound_seconds
    phases: dict[str, Any] = {}
    warm: list[Sample] = []
    every: list[Sample] = []
    by_phase: dict[str, list[Sample]] = {}
    memory_empty = await run.used_memory()
    await _warm_process(run, tokens, data)
    loop = OpenLoop(run.api.url, variant.cache_header, tokens, oracle)
    try:
        for index, phase in enumerate(profile.phases):
            warms = index == 0 and variant.warms
            warm_args = profile.warm_args if warms else None
            samples, counted = await _phase(run, loop, data, index, phase, warm_args)
            phases[phase.name] = {
                "rate_per_s": phase.rate,
                "seconds": round(max(s.offset_s for s in samples), 1) if warms else phase.seconds,
                "overall": {**figures.group(samples), **counted},
                "endpoints": figures.per_endpoint(samples),
            }
            by_phase[phase.name] = samples
            every += samples
            if index == 0:
                phases[phase.name]["curve"] = figures.warming_curve(samples)
            else:
                warm += samples
    finally:
        await loop.aclose()
    for name, samples in by_phase.items():  # against every write of the run, late ones too
        phases[name]["stale_reads"] = figures.stale_reads(samples, bound, writes_of=every)
    memory = await run.used_memory()
    return {
        "summary": variant.summary,
        "phases": phases,
        "overall": figures.group(warm or every),
        "endpoints": figures.per_endpoint(warm or every),
        "stale_reads": figures.stale_reads(every, bound),
        "reads_per_request": _mean_reads(phases, skip_first=bool(warm)),
        "redis_used_memory_bytes": memory,
        "redis_used_memory_empty_bytes": memory_empty,
        "seconds": round(time.monotonic() - started, 1),
    }


async def _start_all(stack: AsyncExitStack, database: str, workers: int) -> dict[str, Running]:
    """Every variant's processes started at once (smoke: the imports overlap)."""
    started = await asyncio.gather(
        *(stack.enter_async_context(running(v, database, workers)) for v in VARIANTS),
        return_exceptions=True,
    )
    for outcome in started:
        if isinstance(outcome, BaseException):
            raise outcome
    return {v.name: run for v, run in zip(VARIANTS, started, strict=True)}  # type: ignore[misc]


async def _warm_process(run: Running, tokens: Tokens, data: Dataset) -> None:
    """Every worker process warmed, then the cache emptied: a new process's first requests
    (lazy imports, SQLAlchemy's statement cache, pydantic, opening connections) are not the
    cache's cost, and every variant's first phase still starts from a cold cache. The GETs go
    a few at a time, each on a connection of its own, until every worker has answered
    `WARM_UP_CALLS` of them: one keep-alive connection would have warmed one worker only."""
    mix = Mix(data, MIX_SEED - 1)
    answered: Counter[str] = Counter()
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=run.api.url, timeout=30, limits=fresh) as client:
        for _ in range(WARM_UP_ROUNDS):
            calls = [c for c in (mix.next() for _ in range(WARM_UP_AT_ONCE * 2)) if not c.writes]
            sent = (client.get(c.path, headers=tokens.header(c.user)) for c in calls)
            for response in await asyncio.gather(*itertools.islice(sent, WARM_UP_AT_ONCE)):
                worker = response.headers.get(WORKER_HEADER)
                if worker is None:
                    raise RuntimeError(f"warm-up: an answer without {WORKER_HEADER}")
                answered[worker] += response.status_code == 200
            if len(answered) >= run.api.workers and min(answered.values()) >= WARM_UP_CALLS:
                break
        else:
            raise RuntimeError(
                f"warm-up: answers per worker {dict(answered)}, {run.api.workers} workers"
            )
    await run.empty_cache()


def _mean_reads(phases: dict[str, Any], skip_first: bool) -> float:
    """Database reads per request over the phases after warming, weighted by requests."""
    chosen = list(phases.values())[1:] if skip_first else list(phases.values())
    total = sum(p["overall"]["requests"] for p in chosen)
    reads = sum(p["overall"]["reads_per_request"] * p["overall"]["requests"] for p in chosen)
    return round(reads / total, 3) if total else 0.0


async def main(profile: Profile, admin_url: str) -> dict[str, Any]:
    seeded = time.monotonic()
    async with temporary_database(admin_url, profile.seed_args) as database:
        seed_s = time.monotonic() - seeded
        data = await snapshot(database)
        # The dataset and what started the variants stay alive the whole run: a full collection
        # walking them stopped the generator for 100-250 ms, a stall charged to every request.
        gc.collect()
        gc.freeze()
        variants: dict[str, Any] = {}
        async with oracle_api(database) as oracle_run, AsyncExitStack() as stack:
            workers = api_workers(profile)
            early = await _start_all(stack, database, workers) if profile.start_all_first else {}
            for variant in VARIANTS:
                print(f"  load: {variant.name} ...", flush=True)
                if variant.name in early:
                    run = early[variant.name]
                else:
                    run = await stack.enter_async_context(running(variant, database, workers))
                run.watch_cpu(oracle_run, urlsplit(database).path.lstrip("/"))
                oracle = Oracle(oracle_run.api.url, profile.oracle_share)
                try:
                    variants[variant.name] = await run_variant(variant, run, data, profile, oracle)
                finally:
                    await oracle.aclose()
                await run.stop()
    return {
        "generator": "asyncio open loop (bench/load/generator.py): fixed arrival rate, "
        "latency from each request's scheduled send",
        "dataset": {**data.counts, "seed_seconds": round(seed_s, 1)},
        "phases": [
            {"name": p.name, "rate_per_s": p.rate, "seconds": p.seconds} for p in profile.phases
        ],
        "oracle_share": profile.oracle_share,
        "api_workers": api_workers(profile),
        "analytics_stale_bound_s": CacheSettings().stale_bound_seconds,
        "variants": variants,
    }
