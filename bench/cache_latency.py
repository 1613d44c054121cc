"""Cached vs uncached GET latency, side by side in one run, and Redis round trips per hit.

Two API servers (uvicorn, one worker each) run on the same freshly seeded database: one with
the cache, one with `CACHE_ENABLED=false`. For each endpoint the client sends sequential
requests to each server in turn (interleaved, so both see the same machine load) and reports
p50/p99. Round trips per hit are counted in-process by wrapping the Redis connection's
`send_packed_command`/`send_command` calls.

The Python client (httpx) adds most of a hit's time to it (about 0.7 ms a request here, against
0.3 ms for the whole hit measured by wrk), so the cached and uncached servers are also timed
with wrk (C, one connection, one request at a time, `WRK_SECONDS` per round, two rounds
interleaved): the ratio of those p50s is what the server's cache saves, and the one the
analytics target is judged on (docs/benchmarks.md).

Usage: `uv run python bench/cache_latency.py [--requests N] [--smoke]`
(uses DATABASE_URL / REDIS_URL, default local servers; creates and drops its own database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import processes
from bench.support import (
    free_port,
    percentile,
    redis_commands_sent,
    temporary_database,
    wait_for_http,
)
from bench.wrk_run import Load, run_wrk, wrk_available

ROOT = Path(__file__).resolve().parent.parent
WRK_SECONDS = 2  # per server and round; `--smoke`: 1
ONE_AT_A_TIME = 1  # wrk's connections and threads: sequential requests, as the httpx loop
RESULTS = ROOT / "bench" / "results"


def _server(
    port: int, database_url: str, redis_url: str, prefix: str, cache: bool, events: bool = True
) -> Any:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "CACHE_ENABLED": "true" if cache else "false",
        "CACHE_EVENTS_ENABLED": "true" if events else "false",
        "ENVIRONMENT": "test",
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "collabcache_api.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return processes.popen(cmd, env=env, cwd=ROOT)


async def _targets(database_url: str) -> dict[str, str]:
    conn = await asyncpg.connect(database_url)
    try:
        owner = await conn.fetchval("SELECT id FROM users WHERE email = 'owner@example.com'")
        org = await conn.fetchval(
            "SELECT organization_id FROM organization_members WHERE user_id = $1 AND role = 'owner'"
            " ORDER BY created_at LIMIT 1",
            owner,
        )
        study = await conn.fetchval(
            "SELECT study_id FROM study_collaborators WHERE user_id = $1 LIMIT 1", owner
        )
        team = await conn.fetchval("SELECT id FROM teams WHERE organization_id = $1 LIMIT 1", org)
    finally:
        await conn.close()
    return {
        "owner_id": str(owner),
        "GET /api/organizations": "/api/organizations",
        "GET /api/organizations/{id}/members": f"/api/organizations/{org}/members",
        "GET /api/organizations/{id}/analytics": f"/api/organizations/{org}/analytics",
        "GET /api/teams/{id}/members": f"/api/teams/{team}/members",
        "GET /api/collaboration/studies/{id}/comments": (
            f"/api/collaboration/studies/{study}/comments"
        ),
        "GET /api/collaboration/studies/{id}/permissions": (
            f"/api/collaboration/studies/{study}/permissions"
        ),
    }


async def _measure(base: str, path: str, headers: dict[str, str], n: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        for _ in range(5):  # warm: connection, and the cache entry on the cached server
            (await client.get(path)).raise_for_status()
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            response = await client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        return samples


def _token(user_id: str) -> str:
    from collabcache_api.security import issue_token
    from collabcache_shared.settings import AuthSettings

    return issue_token(uuid.UUID(user_id), AuthSettings())


async def round_trips_per_hit(database_url: str, redis_url: str, path: str, token: str) -> float:
    """Redis round trips of one cache hit, counted on the client's connections."""
    from collabcache_api.main import create_app
    from collabcache_shared.settings import ApiSettings, CacheSettings, RedisSettings

    app = create_app(
        ApiSettings(environment="test", database_url=database_url),
        RedisSettings(url=redis_url, key_prefix=f"bench-rt-{uuid.uuid4().hex[:6]}"),
        CacheSettings(events_enabled=False),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://b", headers=headers
        ) as c:
            for _ in range(3):
                await c.get(path)
            hits = 20
            with redis_commands_sent() as counted:
                for _ in range(hits):
                    assert (await c.get(path)).headers["x-cache"] == "HIT"
    return counted["n"] / hits


async def _wrk_p50s(
    ports: dict[str, int], path: str, headers: dict[str, str], seconds: int
) -> dict[str, float]:
    """`{variant}_wrk_p50_ms` / `_p99_ms` of the cached and uncached servers (two rounds each,
    interleaved; the p50 of a variant is the mean of its rounds')."""
    load = Load(connections=ONE_AT_A_TIME, threads=ONE_AT_A_TIME, seconds=seconds)
    runs: dict[str, list[dict[str, Any]]] = {"cached": [], "uncached": []}
    for _ in range(2):
        for variant in runs:
            url = f"http://127.0.0.1:{ports[variant]}{path}"
            run = await run_wrk(url, load, headers)
            if not run["requests"] or run["non_2xx_3xx"] or run["socket_errors"]:
                raise RuntimeError(f"wrk against {variant} {path}: {run}")
            runs[variant].append(run)
    row: dict[str, float] = {}
    for variant, figures in runs.items():
        for p in ("p50", "p99"):
            mean = statistics.fmean(f[f"latency_{p}_ms"] for f in figures)
            row[f"{variant}_wrk_{p}_ms"] = round(mean, 3)
    return row


async def main(requests: int, smoke: bool) -> dict[str, Any]:
    database_admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    async with temporary_database(
        database_admin, seed_args=["--scale", "0.2" if smoke else "1"]
    ) as db:
        targets = await _targets(db)
        token = _token(targets.pop("owner_id"))
        headers = {"Authorization": f"Bearer {token}"}
        prefix = f"bench-{uuid.uuid4().hex[:6]}"
        # "cached_quiet": the same cache without cache-event emission (its cost on a hit).
        ports = {"cached": free_port(), "cached_quiet": free_port(), "uncached": free_port()}
        servers = [
            _server(ports["cached"], db, redis_url, prefix, cache=True),
            _server(ports["cached_quiet"], db, redis_url, prefix, cache=True, events=False),
            _server(ports["uncached"], db, redis_url, prefix, cache=False),
        ]
        try:
            for port in ports.values():
                await wait_for_http(f"http://127.0.0.1:{port}/health")
            rows = []
            for name, path in targets.items():
                samples: dict[str, list[float]] = {variant: [] for variant in ports}
                for _ in range(2):  # interleave the two servers
                    for variant, port in ports.items():
                        base = f"http://127.0.0.1:{port}"
                        samples[variant] += await _measure(base, path, headers, requests // 2)
                rows.append(
                    {
                        "endpoint": name,
                        **{
                            f"{v}_p50_ms": round(statistics.median(s), 2)
                            for v, s in samples.items()
                        },
                        **{f"{v}_p99_ms": round(percentile(s, 99), 2) for v, s in samples.items()},
                    }
                )
                # The smoke run measures wrk on the first endpoint only (it proves the step runs).
                if wrk_available() and not (smoke and len(rows) > 1):
                    seconds = 1 if smoke else WRK_SECONDS
                    rows[-1].update(await _wrk_p50s(ports, path, headers, seconds))
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                processes.stop(server)  # SIGKILL after its grace
        trips = await round_trips_per_hit(
            db, redis_url, targets["GET /api/organizations/{id}/members"], token
        )
    return {"requests_per_variant": requests, "rows": rows, "redis_round_trips_per_hit": trips}


def report(result: dict[str, Any]) -> str:
    lines = [
        "| endpoint | cached p50 | cached p99 | uncached p50 | uncached p99 | p50 speed-up "
        "| cached p50 without cache events | wrk: cached p50 | wrk: uncached p50 "
        "| wrk: p50 speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        ratio = r["uncached_p50_ms"] / r["cached_p50_ms"] if r["cached_p50_ms"] else 0
        wrk = "| n/a | n/a | n/a |"
        if "cached_wrk_p50_ms" in r:
            wrk_ratio = r["uncached_wrk_p50_ms"] / r["cached_wrk_p50_ms"]
            wrk = (
                f"| {r['cached_wrk_p50_ms']} ms | {r['uncached_wrk_p50_ms']} ms "
                f"| {wrk_ratio:.1f}x |"
            )
        lines.append(
            f"| {r['endpoint']} | {r['cached_p50_ms']} ms | {r['cached_p99_ms']} ms | "
            f"{r['uncached_p50_ms']} ms | {r['uncached_p99_ms']} ms | {ratio:.1f}x | "
            f"{r['cached_quiet_p50_ms']} ms {wrk}"
        )
    lines.append(f"\nRedis round trips per cache hit: {result['redis_round_trips_per_hit']:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no figures kept")
    args = parser.parse_args()
    outcome = asyncio.run(main(20 if args.smoke else args.requests, args.smoke))
    print(report(outcome))
    if not args.smoke:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (RESULTS / f"cache_latency-{stamp}.json").write_text(json.dumps(outcome, indent=2))
