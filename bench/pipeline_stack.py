"""The pipeline as separate processes, for the invalidation-lag benchmark: a private
`redis-server` with keyspace notifications on, the API (uvicorn; its outbox relay runs in it) and
the invalidator (uvicorn), on one database and one key prefix.

The Redis server is the benchmark's own, so switching keyspace notifications on changes nothing
of the shared server's configuration.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from bench import processes, tools
from bench.support import free_port, wait_for_http
from collabcache_shared.settings import CacheSettings

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = tools.path("redis-server")
# E: keyevent channels, g: generic commands (DEL and UNLINK publish `del`).
NOTIFY_FLAGS = "Eg"
DELETED_CHANNEL = "__keyevent@0__:del"


@dataclass
class PrivateRedis:
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cc-bench-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def launch(self) -> None:
        if shutil.which(REDIS_SERVER) is None:
            raise SystemExit(f"redis-server is not on PATH ({tools.INSTALL['redis-server']})")
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.directory)]
        args += ["--notify-keyspace-events", NOTIFY_FLAGS]
        self.process = processes.popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def wait_ready(self) -> None:
        """Answering, and past the fence period in which a new server grants no lease
        (README, "The fenced cache protocol"): measurements start with a usable cache."""
        client = aioredis.Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    if await client.ping():
                        break
                except (aioredis.ConnectionError, OSError):
                    await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"redis-server on {self.port} did not answer")
            window = CacheSettings().young_server_seconds
            uptime = int((await client.info("server"))["uptime_in_seconds"])
            await asyncio.sleep(max(0, window - uptime))
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None:
            processes.stop(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Service:
    """One process serving an application factory: uvicorn, or with `workers` > 1 the
    product's server (`bench.apps.served`: a listening socket per worker)."""

    factory: str
    env: dict[str, str]
    workers: int = 1  # worker processes on the port
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def role(self) -> str:
        """What it serves, from its factory: `invalidator` for collabcache_invalidator.main."""
        return self.factory.split(".")[0].removeprefix("collabcache_")

    def launch(self) -> None:
        env = {**os.environ, **self.env}
        if self.workers > 1:  # as production runs them: a listening socket per worker
            cmd = [sys.executable, "-m", "bench.apps.served", self.factory]
            env |= {"API_HOST": "127.0.0.1", "API_PORT": str(self.port)}
            env |= {"API_WORKERS": str(self.workers), "ACCESS_LOG": "false"}
            env.setdefault("LOG_LEVEL", "WARNING")
        else:
            cmd = [sys.executable, "-m", "uvicorn", self.factory, "--factory"]
            cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
            cmd += ["--log-level", "warning", "--no-access-log"]
        self.process = processes.popen(cmd, env=env, cwd=ROOT)

    async def start(self, ready_path: str) -> None:
        self.launch()
        await wait_for_http(self.url + ready_path)

    def stop(self) -> None:
        if self.process is not None:
            processes.stop(self.process)
            self.process = None


def service_env(database_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "ENVIRONMENT": "test",
        "CACHE_EVENTS_ENABLED": "false",
    }


def api(env: dict[str, str]) -> Service:
    return Service("collabcache_api.main:create_app", env)


def invalidator(env: dict[str, str]) -> Service:
    return Service("collabcache_invalidator.main:create_app", env)
