"""CPU per request of the API for a hit, a miss and a write (docs/benchmarks.md, "CPU per
request"), the figures to profile and cut.

One API process (uvicorn, one worker, production's loop and parser) on a private `redis-server`
and a database seeded at the bench's scale. From the bench's own mix (`bench.load.workload`):
GETs (each read twice first, so the replay finds them cached) replayed as hits; the same GETs
with `Cache-Control: no-cache` as misses (the page read from PostgreSQL and stored again, the
caller's standing from the cache, as on most misses of the load); and the mix's writes. Each
kind is sent by a few concurrent clients; its figure is the API process's CPU time (user +
system) over the requests sent. Every answer is checked: hits must say `X-Cache: HIT`, misses
`MISS`, writes 2xx.

Usage: `uv run python -m bench.request_cpu [--requests N] [--py-spy DIR]` (py-spy's collapsed
stacks per kind, for `python -m bench.top_frames`) (DATABASE_URL names
the PostgreSQL server; a throwaway database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench import processes
from bench.ceiling_stack import UvicornApp, api_env, py_spy_command
from bench.load.generator import Tokens, session
from bench.load.profiles import BENCH_SEED
from bench.load.workload import Call, Mix, snapshot
from bench.pipeline_stack import PrivateRedis
from bench.support import temporary_database

RESULTS = Path(__file__).resolve().parent / "results"
CLIENTS = 8  # concurrent requests by default: the API is busy, as under load, not queueing
KINDS = ("hit", "miss", "write")
EXPECTED = {"hit": "HIT", "miss": "MISS"}


def _calls(mix: Mix, kind: str, count: int) -> list[Call]:
    wanted: list[Call] = []
    while len(wanted) < count:
        call = mix.next()
        if call.writes == (kind == "write"):
            wanted.append(call)
    return wanted


async def _send(client: aiohttp.ClientSession, tokens: Tokens, call: Call, kind: str) -> str:
    headers = tokens.header(call.user)
    if kind == "miss":
        headers["Cache-Control"] = "no-cache"
    async with client.request(call.method, call.path, headers=headers, json=call.body) as answer:
        await answer.read()
        if kind == "write":
            return "2xx" if answer.status < 300 else str(answer.status)
        return answer.headers.get("x-cache", str(answer.status))


async def _measure(
    api: UvicornApp, url: str, calls: list[Call], kind: str, clients: int
) -> dict[str, Any]:
    assert api.process is not None
    process = psutil.Process(api.process.pid)
    tokens, queue = Tokens(), list(reversed(calls))
    outcomes: Counter[str] = Counter()
    async with session(url) as client:

        async def worker() -> None:
            while queue:
                outcomes[await _send(client, tokens, queue.pop(), kind)] += 1

        for call in calls:  # tokens minted beforehand
            tokens.header(call.user)
        before, started = process.cpu_times(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        after, wall = process.cpu_times(), time.perf_counter() - started
    cpu = (after.user - before.user) + (after.system - before.system)
    expected = EXPECTED.get(kind, "2xx")
    return {
        "requests": len(calls),
        "cpu_us_per_request": round(1e6 * cpu / len(calls), 1),
        "requests_per_s": round(len(calls) / wall, 1),
        "outcomes": dict(outcomes),
        "all_as_expected": set(outcomes) == {expected},
    }


async def _warm(url: str, calls: list[Call]) -> None:
    tokens = Tokens()
    async with session(url) as client:
        for _ in range(2):
            for call in calls:
                await _send(client, tokens, call, "warm")


async def main(requests: int, clients: int, py_spy: Path | None) -> dict[str, Any]:
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis = PrivateRedis()
    redis.launch()
    try:
        await redis.wait_ready()
        async with temporary_database(admin, BENCH_SEED) as database:
            mix = Mix(await snapshot(database), seed=2024)
            env = api_env(database, redis.url, f"bench-cpu-{uuid.uuid4().hex[:6]}")
            api = UvicornApp("collabcache_api.main:create_app", env)
            await api.start("/ready")
            try:
                return await _kinds(api, mix, requests, clients, py_spy)
            finally:
                api.stop()
    finally:
        redis.stop()


async def _kinds(
    api: UvicornApp, mix: Mix, requests: int, clients: int, py_spy: Path | None
) -> dict[str, Any]:
    reads = _calls(mix, "hit", requests)
    await _warm(api.url, reads[: CLIENTS * 4])  # imports, statement caches, pools
    await _warm(api.url, reads)
    figures: dict[str, Any] = {}
    for kind in KINDS:
        calls = _calls(mix, "write", requests // 4) if kind == "write" else reads
        recorder = None
        if py_spy is not None:
            assert api.process is not None
            await asyncio.to_thread(py_spy.mkdir, parents=True, exist_ok=True)
            out = py_spy / f"request-cpu-{kind}.collapsed.txt"
            args = py_spy_command(api.process.pid, 600, "raw", out)
            recorder = await processes.spawn(*args)
        figures[kind] = await _measure(api, api.url, calls, kind, clients)
        if recorder is not None:
            recorder.send_signal(2)  # SIGINT: py-spy writes what it has
            await recorder.wait()
    return {"clients": clients, "kinds": figures}


def report(result: dict[str, Any]) -> str:
    lines = ["| request | CPU per request | req/s | answers |", "|---|---|---|---|"]
    for kind, f in result["kinds"].items():
        check = "" if f["all_as_expected"] else " **(not all as expected)**"
        lines.append(
            f"| {kind} | {f['cpu_us_per_request']} µs | {f['requests_per_s']} | "
            f"{f['outcomes']}{check} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=800, help="per kind (writes: a quarter)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent requests")
    parser.add_argument("--py-spy", type=Path, help="record the API per kind with py-spy here")
    args = parser.parse_args()
    outcome = asyncio.run(main(args.requests, args.clients, args.py_spy))
    print(report(outcome))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"request-cpu-{stamp}.json").write_text(json.dumps(outcome, indent=2))
