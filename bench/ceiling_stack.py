"""What `bench.ceiling` runs: a private `redis-server`, a seeded throwaway database, the API
and the bare Redis-GET app, each as one uvicorn process with the same settings."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis

from bench import processes
from bench.pipeline_stack import ROOT, PrivateRedis, Service
from bench.support import temporary_database
from bench.wrk_run import Load, run_wrk
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import CACHE_EVENTS_STREAM

# What production's `run()` gets from uvicorn's "auto" choices (both are installed), pinned
# so both apps surely run the same; access log off for both (a per-request cost of its own).
UVICORN_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--workers", "1", "--no-access-log"]
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


@dataclass
class UvicornApp(Service):
    python: str = sys.executable  # another checkout's environment, to compare
    cwd: Path = ROOT

    def launch(self) -> None:
        cmd = [self.python, "-m", "uvicorn", self.factory, "--factory"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        cmd += UVICORN_FLAGS
        self.process = processes.popen(cmd, env={**os.environ, **self.env}, cwd=self.cwd)


@dataclass
class Stack:
    redis: PrivateRedis
    cached: UvicornApp
    bare: UvicornApp
    path: str
    headers: dict[str, str]
    events_stream: str
    payload_bytes: int = 0

    async def record_profiles(self, directory: Path, load: Load) -> None:
        """One more wrk run per app with py-spy attached (raw collapsed stacks + speedscope)."""
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        for name, app, url, headers in (
            ("bare", self.bare, self.bare.url + "/get", {}),
            ("cached", self.cached, self.cached.url + self.path, self.headers),
        ):
            assert app.process is not None
            seconds = max(2, round(load.seconds))
            recorders = [
                await processes.spawn(
                    *py_spy_command(
                        app.process.pid, seconds, fmt, directory / f"ceiling-{name}.{suffix}"
                    ),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                for fmt, suffix in (("raw", "collapsed.txt"), ("speedscope", "speedscope.json"))
            ]
            await run_wrk(url, Load(load.connections, load.threads, seconds + 1), headers)
            for recorder in recorders:
                await recorder.wait()


def py_spy_command(pid: int, seconds: int, fmt: str, output: Path) -> list[str]:
    cmd = [PY_SPY, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250"]
    return [*cmd, "--nonblocking", "--threads", "--format", fmt, "-o", str(output)]


async def _target(database_url: str) -> tuple[str, str]:
    """The seeded owner and the path of their largest organization's members."""
    conn = await asyncpg.connect(database_url)
    try:
        owner = await conn.fetchval("SELECT id FROM users WHERE email = 'owner@example.com'")
        org = await conn.fetchval(
            "SELECT m.organization_id FROM organization_members m WHERE m.user_id = $1"
            " AND m.role = 'owner' ORDER BY (SELECT count(*) FROM organization_members o"
            " WHERE o.organization_id = m.organization_id) DESC LIMIT 1",
            owner,
        )
    finally:
        await conn.close()
    return str(owner), f"/api/organizations/{org}/members"


def _token(user_id: str) -> str:
    from collabcache_api.security import issue_token
    from collabcache_shared.settings import AuthSettings

    return issue_token(uuid.UUID(user_id), AuthSettings())


async def _cached_body(url: str, headers: dict[str, str]) -> bytes:
    async with httpx.AsyncClient(headers=headers) as client:
        for _ in range(3):
            response = await client.get(url)
            response.raise_for_status()
            if response.headers.get("x-cache") == "HIT":
                return response.content
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never answered a HIT")


def api_env(database_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "ENVIRONMENT": "test",
        # Production's tens of milliseconds would trip the breaker on this shared machine.
        "REDIS_SOCKET_TIMEOUT": "0.5",
        "CACHE_OPERATION_TIMEOUT_SECONDS": "1.0",
    }


@asynccontextmanager
async def served_stack(seed_scale: str) -> AsyncIterator[Stack]:
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    async with AsyncExitStack() as stack:
        redis = PrivateRedis()
        redis.launch()
        stack.callback(redis.stop)
        await redis.wait_ready()
        database = await stack.enter_async_context(
            temporary_database(admin, ["--scale", seed_scale])
        )
        owner, path = await _target(database)
        prefix = f"bench-ceiling-{uuid.uuid4().hex[:6]}"
        env = api_env(database, redis.url, prefix)
        bare_key = f"{prefix}:bare-payload"
        cached = UvicornApp("collabcache_api.main:create_app", env)
        bare = UvicornApp("bench.apps.bare_redis_get:create_app", {**env, "BARE_KEY": bare_key})
        for app in (cached, bare):
            stack.callback(app.stop)
            await app.start("/health")
        headers = {"Authorization": f"Bearer {_token(owner)}"}
        body = await _cached_body(cached.url + path, headers)
        client = aioredis.Redis.from_url(redis.url)
        await client.set(bare_key, body)
        await client.aclose()
        async with httpx.AsyncClient() as check:
            if (await check.get(bare.url + "/get")).content != body:
                raise RuntimeError("the bare app does not serve the cached response's bytes")
        stream = KeySpace(prefix=prefix).stream(CACHE_EVENTS_STREAM)
        yield Stack(redis, cached, bare, path, headers, stream, payload_bytes=len(body))
