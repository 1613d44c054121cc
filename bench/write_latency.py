"""What a write pays for the cache protocol: p50/p99 of a write with the fenced protocol
(fence, commit, clear) against the same write with no cache step at all
(`CACHE_INVALIDATE_INLINE=false`), interleaved on one machine, and Redis round trips per write
counted on the client's connections (README, "The fenced cache protocol"). Two writes: a
comment edit (a few entries to fence) and an organization rename (one entry per member).

Usage: `uv run python -m bench.write_latency [--requests N]` (DATABASE_URL / REDIS_URL, default
local servers; creates and drops its own database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import uuid
from typing import Any

import httpx

from bench import processes
from bench.cache_latency import _server, _targets, _token
from bench.support import (
    free_port,
    percentile,
    redis_commands_sent,
    temporary_database,
    wait_for_http,
)

VARIANTS = {"fenced": {}, "no_cache_step": {"CACHE_INVALIDATE_INLINE": "false"}}
Write = tuple[str, str]  # the PATCH's path, and the field it sets


async def _write_targets(
    base: str, targets: dict[str, str], headers: dict[str, str]
) -> dict[str, Write]:
    """The two writes: a comment of the owner's (made here) and the owner's organization."""
    comments = targets["GET /api/collaboration/studies/{id}/comments"]
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        made = await client.post(comments, json={"body": "Bench comment"})
        made.raise_for_status()
    organization = targets["GET /api/organizations/{id}/members"].removesuffix("/members")
    return {
        "comment edit": (f"{comments}/{made.json()['id']}", "body"),
        "organization rename": (organization, "name"),
    }


async def _writes(base: str, write: Write, headers: dict[str, str], n: int) -> list[float]:
    path, field = write
    samples = []
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        for i in range(n + 5):
            started = asyncio.get_running_loop().time()
            response = await client.patch(path, json={field: f"Bench {i % 7}"})
            response.raise_for_status()
            if i >= 5:  # the first few warm the connection
                samples.append((asyncio.get_running_loop().time() - started) * 1000)
    return samples


async def round_trips_per_write(
    database_url: str, redis_url: str, write: Write, token: str
) -> float:
    from collabcache_api.main import create_app
    from collabcache_shared.settings import (
        ApiSettings,
        CacheSettings,
        OutboxSettings,
        RedisSettings,
    )

    app = create_app(
        ApiSettings(environment="test", database_url=database_url),
        RedisSettings(url=redis_url, key_prefix=f"bench-wrt-{uuid.uuid4().hex[:6]}"),
        CacheSettings(events_enabled=False),
        OutboxSettings(relay_enabled=False),
    )
    writes = 20
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://b", headers=headers
        ) as c:
            path, field = write
            await c.patch(path, json={field: "Bench warm"})
            with redis_commands_sent() as counted:
                for i in range(writes):
                    (await c.patch(path, json={field: f"Bench {i}"})).raise_for_status()
    return counted["n"] / writes


async def main(requests: int) -> dict[str, Any]:
    database_admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    async with temporary_database(database_admin, seed_args=["--scale", "0.2"]) as db:
        targets = await _targets(db)
        token = _token(targets["owner_id"])
        headers = {"Authorization": f"Bearer {token}"}
        prefix = f"bench-w-{uuid.uuid4().hex[:6]}"
        ports = {name: free_port() for name in VARIANTS}
        servers = []
        for name, env in VARIANTS.items():
            os.environ.update(env)
            servers.append(_server(ports[name], db, redis_url, prefix, cache=True, events=False))
            for variable in env:
                os.environ.pop(variable)
        try:
            for port in ports.values():
                await wait_for_http(f"http://127.0.0.1:{port}/health")
            writes = await _write_targets(f"http://127.0.0.1:{ports['fenced']}", targets, headers)
            samples: dict[tuple[str, str], list[float]] = {
                (w, v): [] for w in writes for v in VARIANTS
            }
            for _ in range(4):  # interleaved: both variants see the same machine load
                for (write, name), kept in samples.items():
                    base = f"http://127.0.0.1:{ports[name]}"
                    kept += await _writes(base, writes[write], headers, requests // 4)
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                processes.stop(server)  # SIGKILL after its grace
        trips = {w: await round_trips_per_write(db, redis_url, writes[w], token) for w in writes}
    figures = {
        f"{write}, {name}": {
            "p50_ms": round(statistics.median(s), 2),
            "p99_ms": round(percentile(s, 99), 2),
        }
        for (write, name), s in samples.items()
    }
    return {
        "writes_per_variant": requests,
        "variants": figures,
        "redis_round_trips_per_write": trips,
    }


def report(result: dict[str, Any]) -> str:
    lines = ["| write, variant | p50 | p99 |", "|---|---|---|"]
    for name, f in result["variants"].items():
        lines.append(f"| {name} | {f['p50_ms']} ms | {f['p99_ms']} ms |")
    for write, trips in result["redis_round_trips_per_write"].items():
        lines.append(f"\nRedis round trips per {write} (fenced): {trips:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    print(report(asyncio.run(main(args.requests))))
