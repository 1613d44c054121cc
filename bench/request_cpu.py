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

With `--baseline CHECKOUT`, a second API (that checkout's, run by its own `.venv`) is measured
in the same run: the two take turns, round after round, so both see the machine's load alike
and the ratio between them holds on a busy machine.

Usage: `uv run python -m bench.request_cpu [--requests N] [--baseline DIR] [--py-spy DIR]`
(DATABASE_URL names the PostgreSQL server; a throwaway database is created and dropped;
`--py-spy`: py-spy's collapsed stacks per app and kind, for `python -m bench.top_frames`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench import processes
from bench.ceiling_stack import UvicornApp, api_env, py_spy_command
from bench.load.generator import Tokens, session
from bench.load.profiles import BENCH_SEED, SMOKE_SEED
from bench.load.workload import Call, Mix, snapshot
from bench.pipeline_stack import ROOT, PrivateRedis
from bench.support import temporary_database

RESULTS = Path(__file__).resolve().parent / "results"
ROUNDS = 4  # per kind, alternating between the apps
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
    api: UvicornApp, calls: list[Call], kind: str, clients: int
) -> tuple[float, Counter[str]]:
    """CPU seconds the API spent answering `calls`, and their answers."""
    assert api.process is not None
    process = psutil.Process(api.process.pid)
    tokens, queue = Tokens(), list(reversed(calls))
    outcomes: Counter[str] = Counter()
    for call in calls:  # tokens minted beforehand
        tokens.header(call.user)
    async with session(api.url) as client:

        async def worker() -> None:
            while queue:
                outcomes[await _send(client, tokens, queue.pop(), kind)] += 1

        before = process.cpu_times()
        await asyncio.gather(*(worker() for _ in range(clients)))
        after = process.cpu_times()
    return (after.user - before.user) + (after.system - before.system), outcomes


async def _warm(url: str, calls: list[Call]) -> None:
    tokens = Tokens()
    async with session(url) as client:
        for _ in range(2):
            for call in calls:
                await _send(client, tokens, call, "warm")


async def main(
    requests: int,
    clients: int,
    baseline: Path | None = None,
    py_spy: Path | None = None,
    seed_args: Sequence[str] = BENCH_SEED,
) -> dict[str, Any]:
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis = PrivateRedis()
    redis.launch()
    try:
        await redis.wait_ready()
        async with temporary_database(admin, seed_args) as database:
            mix = Mix(await snapshot(database), seed=2024)
            apps = {"current": _app(database, redis.url, ROOT)}
            if baseline is not None:
                apps["baseline"] = _app(database, redis.url, baseline)
            try:
                for app in apps.values():
                    await app.start("/ready")
                return await _kinds(apps, mix, requests, clients, py_spy)
            finally:
                for app in apps.values():
                    app.stop()
    finally:
        redis.stop()


def _app(database: str, redis_url: str, checkout: Path) -> UvicornApp:
    """The API of `checkout` (its own environment's Python), on its own key prefix."""
    env = api_env(database, redis_url, f"bench-cpu-{uuid.uuid4().hex[:6]}")
    python = str(checkout / ".venv" / "bin" / "python") if checkout != ROOT else sys.executable
    return UvicornApp("collabcache_api.main:create_app", env, python=python, cwd=checkout)


async def _kinds(
    apps: dict[str, UvicornApp], mix: Mix, requests: int, clients: int, py_spy: Path | None
) -> dict[str, Any]:
    reads = _calls(mix, "hit", requests)
    writes = _calls(mix, "write", requests // 4)
    for app in apps.values():
        await _warm(app.url, reads[: CLIENTS * 4])  # imports, statement caches, pools
        await _warm(app.url, reads)
    cpu: dict[tuple[str, str], float] = {}
    answers: dict[tuple[str, str], Counter[str]] = {}
    # A standing is never refreshed on request: GET .../permissions has no miss to force.
    refreshable = [c for c in reads if not c.endpoint.endswith("/permissions")]
    chosen = {"hit": reads, "miss": refreshable, "write": writes}
    for kind in KINDS:  # every hit before the first write, which would turn some into misses
        for round_ in range(ROUNDS):  # the apps take turns: both see the machine's load alike
            share = chosen[kind][round_::ROUNDS]
            for name, app in apps.items():
                async with _recording(app, name, kind, py_spy, round_ == 0):
                    used, outcomes = await _measure(app, share, kind, clients)
                cpu[name, kind] = cpu.get((name, kind), 0.0) + used
                answers.setdefault((name, kind), Counter()).update(outcomes)
    figures = {
        name: {
            kind: {
                "requests": sum(answers[name, kind].values()),
                "cpu_us_per_request": round(
                    1e6 * cpu[name, kind] / sum(answers[name, kind].values()), 1
                ),
                "outcomes": dict(answers[name, kind]),
                "all_as_expected": set(answers[name, kind]) == {EXPECTED.get(kind, "2xx")},
            }
            for kind in KINDS
        }
        for name in apps
    }
    return {"clients": clients, "rounds": ROUNDS, "apps": figures}


@asynccontextmanager
async def _recording(
    app: UvicornApp, name: str, kind: str, py_spy: Path | None, first: bool
) -> AsyncIterator[None]:
    """py-spy attached to `app` for the block (the first round only), when asked."""
    if py_spy is None or not first:
        yield
        return
    assert app.process is not None
    await asyncio.to_thread(py_spy.mkdir, parents=True, exist_ok=True)
    out = py_spy / f"request-cpu-{name}-{kind}.collapsed.txt"
    recorder = await processes.spawn(*py_spy_command(app.process.pid, 600, "raw", out))
    try:
        yield
    finally:
        recorder.send_signal(2)  # SIGINT: py-spy writes what it has
        await recorder.wait()


def report(result: dict[str, Any]) -> str:
    apps = result["apps"]
    lines = ["| request | " + " | ".join(f"{n}: CPU per request" for n in apps) + " | answers |"]
    lines.append("|---|" + "---|" * len(apps) + "---|")
    for kind in KINDS:
        cells = [f"{apps[n][kind]['cpu_us_per_request']} µs" for n in apps]
        answers = "; ".join(
            f"{n}: {apps[n][kind]['outcomes']}"
            + ("" if apps[n][kind]["all_as_expected"] else " (not all as expected)")
            for n in apps
        )
        lines.append(f"| {kind} | " + " | ".join(cells) + f" | {answers} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=800, help="per kind (writes: a quarter)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent requests")
    parser.add_argument("--smoke", action="store_true", help="a few requests, small data, no file")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (with its .venv) measured alongside"
    )
    parser.add_argument("--py-spy", type=Path, help="record the API per kind with py-spy here")
    args = parser.parse_args()
    if args.smoke:
        outcome = asyncio.run(main(40, args.clients, args.baseline, None, SMOKE_SEED))
        print(report(outcome))
        sys.exit(0)
    outcome = asyncio.run(main(args.requests, args.clients, args.baseline, args.py_spy))
    print(report(outcome))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"request-cpu-{stamp}.json").write_text(json.dumps(outcome, indent=2))
