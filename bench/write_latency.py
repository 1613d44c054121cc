"""What a write pays for the cache protocol: p50/p99 of one write with the fenced protocol
(fence, commit, clear) against the same write with no cache step at all
(`CACHE_INVALIDATE_INLINE=false`), interleaved on one machine, and Redis round trips per write
counted on the client's connections (README, "The fenced cache protocol").

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

from bench.cache_latency import _server, _targets, _token
from bench.support import free_port, percentile, temporary_database, wait_for_http

VARIANTS = {"fenced": {}, "no_cache_step": {"CACHE_INVALIDATE_INLINE": "false"}}


async def _writes(base: str, path: str, headers: dict[str, str], n: int) -> list[float]:
    samples = []
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        for i in range(n + 5):
            started = asyncio.get_running_loop().time()
            response = await client.patch(path, json={"name": f"Bench org {i % 7}"})
            response.raise_for_status()
            if i >= 5:  # the first few warm the connection
                samples.append((asyncio.get_running_loop().time() - started) * 1000)
    return samples


async def round_trips_per_write(database_url: str, redis_url: str, path: str, token: str) -> float:
    from redis.asyncio.connection import AbstractConnection

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
    counted = {"n": 0}
    original = AbstractConnection.send_packed_command

    async def counting(self: Any, command: Any, check_health: bool = True) -> None:
        counted["n"] += 1
        await original(self, command, check_health)

    writes = 20
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://b", headers=headers
        ) as c:
            await c.patch(path, json={"name": "Bench org warm"})
            AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
            try:
                for i in range(writes):
                    (await c.patch(path, json={"name": f"Bench org {i}"})).raise_for_status()
            finally:
                AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
    return counted["n"] / writes


async def main(requests: int) -> dict[str, Any]:
    database_admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    async with temporary_database(database_admin, seed_args=["--scale", "0.2"]) as db:
        targets = await _targets(db)
        token = _token(targets["owner_id"])
        path = targets["GET /api/organizations/{id}/members"].removesuffix("/members")
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
            samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
            for _ in range(4):  # interleaved: both variants see the same machine load
                for name, port in ports.items():
                    base = f"http://127.0.0.1:{port}"
                    samples[name] += await _writes(base, path, headers, requests // 4)
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(10)
        trips = await round_trips_per_write(db, redis_url, path, token)
    figures = {
        name: {"p50_ms": round(statistics.median(s), 2), "p99_ms": round(percentile(s, 99), 2)}
        for name, s in samples.items()
    }
    return {
        "writes_per_variant": requests,
        "variants": figures,
        "redis_round_trips_per_write": trips,
    }


def report(result: dict[str, Any]) -> str:
    lines = ["| write (PATCH /api/organizations/{id}) | p50 | p99 |", "|---|---|---|"]
    for name, f in result["variants"].items():
        lines.append(f"| {name} | {f['p50_ms']} ms | {f['p99_ms']} ms |")
    lines.append(
        f"\nRedis round trips per fenced write: {result['redis_round_trips_per_write']:.2f}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    print(report(asyncio.run(main(args.requests))))
