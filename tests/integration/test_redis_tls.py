"""Production Redis: `rediss://` with an ACL user and a password, on a server whose certificate
only a private CA vouches for.

A private `redis-server` of the test's own serves TLS only (`--port 0`), requires
authentication (an ACL user; the default user has a password too) and presents a certificate
made here with trustme. The three services connect to it with nothing but `RedisSettings`
(`rediss://user:password@...` and `ssl_ca_certs`): the API serves a cached read as a HIT, its
outbox relay publishes a change made in SQL, the invalidator consumes it and deletes the entry,
and the metrics service counts the API's cache events. The negative controls: a wrong password,
plain `redis://` on the TLS port and a client that does not trust the CA all fail; and the
password appears in no log line.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import trustme
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError

from bench.support import free_port
from collabcache_api.main import create_app as create_api
from collabcache_invalidator.main import create_app as create_invalidator
from collabcache_metrics.main import create_app as create_metrics
from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.store import AnyRedis
from collabcache_shared.events import DOMAIN_EVENTS_STREAM
from collabcache_shared.settings import (
    ApiSettings,
    CacheSettings,
    InvalidatorSettings,
    MetricsSettings,
    OutboxSettings,
    RedisSettings,
)
from tests.databases import migrated_database
from tests.integration.builders import Builder, Person

REDIS_SERVER = shutil.which("redis-server")
pytestmark = [
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
]
USER = "collabcache"
CACHE = CacheSettings(operation_timeout_seconds=3.0)
OUTBOX = OutboxSettings(poll_interval_seconds=0.2, retry_backoff_max_seconds=0.2)
WITHIN = 15.0


@dataclass
class TlsRedis:
    port: int
    password: str
    default_password: str
    ca_file: Path

    def settings(self, *, password: str | None = None, **options: Any) -> RedisSettings:
        url = f"rediss://{USER}:{password or self.password}@127.0.0.1:{self.port}/0"
        options.setdefault("ssl_ca_certs", str(self.ca_file))
        return RedisSettings(url=url, socket_connect_timeout=2.0, **options)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    directory = tmp_path_factory.mktemp("redis-tls")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    server.cert_chain_pems[0].write_to_path(str(cert_file))
    server.private_key_pem.write_to_path(str(key_file))
    redis = TlsRedis(free_port(), secrets.token_hex(16), secrets.token_hex(16), ca_file)
    assert REDIS_SERVER is not None
    args = [REDIS_SERVER, "--port", "0", "--tls-port", str(redis.port), "--bind", "127.0.0.1"]
    args += ["--tls-cert-file", str(cert_file), "--tls-key-file", str(key_file)]
    args += ["--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no"]
    args += ["--requirepass", redis.default_password]
    args += ["--user", USER, "on", f">{redis.password}", "~*", "&*", "+@all"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield redis
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def logged() -> Iterator[list[str]]:
    """Every log line of the module, whatever its logger (the password must be in none)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


async def eventually(check: Any, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WITHIN
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {WITHIN}s: {what}")
        await asyncio.sleep(0.05)


async def settled(stack: Stack) -> None:
    """Wait until the events of the builders' SQL (an organization made, its owner added) are
    relayed and applied: else their invalidation can land between two reads of a test."""

    async def drained() -> bool:
        if await stack.build.db.fetchval("SELECT count(*) FROM outbox"):
            return False
        stream = stack.keyspace.stream(DOMAIN_EVENTS_STREAM)
        groups = await stack.redis.xinfo_groups(stream) if await stack.redis.exists(stream) else []
        return all(g["pending"] == 0 and not g.get("lag") for g in groups)

    await eventually(drained, "the setup's events are applied")


@dataclass
class Stack:
    redis: AnyRedis  # the test's own client on the TLS server
    keyspace: KeySpace
    api: httpx.AsyncClient
    invalidator: httpx.AsyncClient
    metrics: httpx.AsyncClient
    build: Builder


@asynccontextmanager
async def _in_own_task(lifespan: AbstractAsyncContextManager[Any]) -> AsyncIterator[None]:
    """Enter and exit a lifespan in one task of its own: a module fixture's setup and teardown
    run in different tasks, and the FastStream lifespans hold anyio cancel scopes."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with lifespan:
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if task.done():
        task.result()  # the lifespan failed to start: raise its error
    try:
        yield
    finally:
        stop.set()
        await task


async def _serve(stack: AsyncExitStack, app: Any, lifespan: Any, name: str) -> httpx.AsyncClient:
    await stack.enter_async_context(_in_own_task(lifespan))
    transport = httpx.ASGITransport(app=app)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
    )


@pytest.fixture(scope="module")
def tls_database_url(servers: dict[str, str], run_id: str) -> Iterator[str]:
    """A database of its own: a second outbox relay on the run's shared one would take turns
    with the session app's and publish other tests' events here."""
    with migrated_database(servers["postgres"], f"cc_test_{run_id}_tls") as url:
        yield url


@pytest.fixture(scope="module")
async def stack(
    tls_redis: TlsRedis, tls_database_url: str, run_id: str, logged: list[str]
) -> AsyncIterator[Stack]:
    prefix = f"cctest:{run_id}:tls"
    # Generous timeouts: a TLS handshake on two shared, busy cores must not open the breaker.
    settings = tls_redis.settings(key_prefix=prefix, socket_timeout=2.0)
    client = make_redis(tls_redis.settings(socket_timeout=5.0))
    await eventually(lambda: _pings(client), "the TLS redis-server answers")
    # A new server grants no lease for the fence period (README, "The fenced cache protocol").
    await eventually(lambda: _past_the_fence_period(client), "the TLS redis-server leases")
    api_settings = ApiSettings(environment="test", database_url=tls_database_url)
    pool = await asyncpg.create_pool(tls_database_url, min_size=1, max_size=4)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(pool.close)
        stack.push_async_callback(client.aclose)
        api = create_api(api_settings, settings, CACHE, OUTBOX)
        invalidator = create_invalidator(settings, InvalidatorSettings(claim_interval_seconds=0.2))
        metrics = create_metrics(settings, MetricsSettings(snapshot_cache_seconds=0))
        yield Stack(
            client,
            KeySpace(prefix=prefix),
            await _serve(stack, api, api.router.lifespan_context(api), "api"),
            await _serve(stack, invalidator, invalidator.start_lifespan_context(), "inv"),
            await _serve(stack, metrics, metrics.start_lifespan_context(), "metrics"),
            Builder(pool, api_settings),
        )


async def _pings(client: Any) -> bool:
    try:
        return bool(await client.ping())
    except (ConnectionError, OSError):
        return False


async def _past_the_fence_period(client: Any) -> bool:
    uptime = int((await client.info("server"))["uptime_in_seconds"])
    return uptime >= CacheSettings().young_server_seconds


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/ready")).status_code == 200


async def test_the_stream_workers_become_ready_over_tls(stack: Stack) -> None:
    await eventually(lambda: _ready(stack.invalidator), "the invalidator is ready")
    await eventually(lambda: _ready(stack.metrics), "the metrics service is ready")


async def test_the_api_serves_a_cached_read_from_the_tls_server(stack: Stack) -> None:
    owner = await stack.build.user("owner")
    org_id = await stack.build.org(owner)
    path = f"/api/organizations/{org_id}/members"
    await settled(stack)
    first = await stack.api.get(path, headers=owner.headers)
    second = await stack.api.get(path, headers=owner.headers)
    assert (first.status_code, second.status_code) == (200, 200), first.text
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    entry = stack.keyspace.entry(CacheKey.of(Family.ORGANIZATION_MEMBERS, org_id))
    assert await stack.redis.exists(entry) == 1


async def test_a_change_in_sql_reaches_the_invalidator_over_tls(stack: Stack) -> None:
    """The relay publishes the outbox row over TLS; the invalidator consumes it and deletes
    the entry (no API write is involved: nothing invalidates inline)."""
    await eventually(lambda: _ready(stack.invalidator), "the invalidator is ready")
    owner = await stack.build.user("owner")
    org_id = await stack.build.org(owner)
    path = f"/api/organizations/{org_id}/members"
    await settled(stack)
    await stack.api.get(path, headers=owner.headers)
    assert (await stack.api.get(path, headers=owner.headers)).headers["X-Cache"] == "HIT"
    entry = stack.keyspace.entry(CacheKey.of(Family.ORGANIZATION_MEMBERS, org_id))
    newcomer: Person = await stack.build.user("newcomer")
    await stack.build.member(org_id, newcomer)

    async def deleted() -> bool:
        return await stack.redis.exists(entry) == 0

    await eventually(deleted, "the invalidator deletes the entry")
    again = await stack.api.get(path, headers=owner.headers)
    assert again.headers["X-Cache"] == "MISS"
    assert str(newcomer.id) in again.text


async def test_the_metrics_service_counts_the_cache_events(stack: Stack) -> None:
    await eventually(lambda: _ready(stack.metrics), "the metrics service is ready")
    owner = await stack.build.user("owner")
    org_id = await stack.build.org(owner)
    for _ in range(3):
        await stack.api.get(f"/api/organizations/{org_id}/teams", headers=owner.headers)

    async def counted() -> bool:
        response = await stack.metrics.get("/stats")
        if response.status_code != 200:
            return False
        overall = response.json()["windows"]["5m"]["overall"]
        return bool(overall["requests"] >= 3 and overall["hits"] >= 2)

    await eventually(counted, "the metrics service counts the reads")


async def test_wrong_credentials_plain_text_and_an_unknown_ca_are_refused(
    tls_redis: TlsRedis,
) -> None:
    wrong_password = make_redis(tls_redis.settings(password="not-the-password"))
    with pytest.raises((AuthenticationError, ResponseError)):
        await wrong_password.ping()
    await wrong_password.aclose()

    plain = Redis.from_url(f"redis://{USER}:{tls_redis.password}@127.0.0.1:{tls_redis.port}/0")
    with pytest.raises(ConnectionError):
        await plain.ping()
    await plain.aclose()

    untrusting = make_redis(tls_redis.settings(ssl_ca_certs=None))
    with pytest.raises(ConnectionError, match="certificate verify failed"):
        await untrusting.ping()
    await untrusting.aclose()


async def test_a_worker_that_does_not_trust_the_ca_never_becomes_ready(
    tls_redis: TlsRedis, run_id: str
) -> None:
    """The brokers take their TLS options from the same settings: without the CA the
    invalidator's broker cannot connect, and says so on /ready."""
    settings = tls_redis.settings(key_prefix=f"cctest:{run_id}:tls-noca", ssl_ca_certs=None)
    app = create_invalidator(settings)
    async with app.start_lifespan_context():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inv") as client:
            await asyncio.sleep(1.0)
            assert (await client.get("/ready")).status_code == 503
            assert (await client.get("/health")).status_code == 200


async def test_the_password_is_in_no_log_line(
    stack: Stack, tls_redis: TlsRedis, logged: list[str]
) -> None:
    assert logged, "nothing was logged: the check would prove nothing"
    assert any(f"rediss://{USER}:***@127.0.0.1:{tls_redis.port}" in line for line in logged)
    leaks = [line for line in logged if tls_redis.password in line]
    assert leaks == []
