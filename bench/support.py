"""What the benchmarks share: free ports, percentiles, a throwaway seeded database."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from bench import processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


async def wait_for_http(url: str, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{url} did not answer")
            await asyncio.sleep(0.1)


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# The databases created here and not dropped yet (name -> admin URL): what an interrupted run
# still has to drop.
created: dict[str, str] = {}


def remember_database(admin_url: str, name: str) -> None:
    """A database created elsewhere that an interrupted run must drop (see `created`)."""
    created[name] = _plain(admin_url)


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    created.pop(name, None)


@asynccontextmanager
async def temporary_database(admin_url: str, seed_args: Sequence[str]) -> AsyncIterator[str]:
    """A database created for this run, migrated and seeded, dropped afterwards (cancelled
    included: the migration or seed process is stopped first)."""
    admin_url = _plain(admin_url)
    name = f"cc_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"  # a leftover names its process
    url = urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    env = {**os.environ, "DATABASE_URL": url}
    created[name] = admin_url
    try:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        for args in (["migrate"], ["seed", *seed_args]):
            await processes.run([sys.executable, "-m", "collabcache_api.cli", *args], env=env)
        yield url
    finally:
        await drop_database(admin_url, name)


@contextlib.contextmanager
def redis_commands_sent() -> Iterator[dict[str, int]]:
    """Counts what the process's redis-py connections send: one packed send is one round trip
    (a pipeline included). `counted["n"]` while inside."""
    from redis.asyncio.connection import AbstractConnection

    counted = {"n": 0}
    original = AbstractConnection.send_packed_command

    async def counting(self: Any, command: Any, check_health: bool = True) -> None:
        counted["n"] += 1
        await original(self, command, check_health)

    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield counted
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
