"""The four variants, each an API process (plus, for collabcache, its invalidator) on its own
private `redis-server`, all on the same seeded database; and the cache-off oracle."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from bench.load.cpu import CpuMeter, tree
from bench.load.profiles import Profile
from bench.pipeline_stack import PrivateRedis, Service, invalidator, service_env
from bench.support import wait_for_http
from collabcache_shared.settings import ApiSettings

COUNTING_API = "bench.apps.counting_api:create_app"
# Only collabcache consumes the domain events: elsewhere the outbox relay is off, so that a
# variant started early (smoke) never takes events meant for collabcache's invalidator.
START_TIMEOUT_S = 180.0
NO_RELAY = {"OUTBOX_RELAY_ENABLED": "false"}


@dataclass(frozen=True)
class Variant:
    name: str
    summary: str
    factory: str = COUNTING_API
    env: dict[str, str] = field(default_factory=dict)
    with_invalidator: bool = False
    cache_header: str = "x-cache"
    # The warm command runs during the first phase (README, "Cache warming"): our cache only.
    warms: bool = False


VARIANTS = (
    Variant(
        "collabcache",
        "as built: cache on, inline invalidation, invalidator consuming, cache events on",
        env={"CACHE_EVENTS_ENABLED": "true"},
        with_invalidator=True,
        warms=True,
    ),
    Variant(
        "cache-off",
        "CACHE_ENABLED=false: every read from PostgreSQL",
        env={"CACHE_ENABLED": "false", **NO_RELAY},
    ),
    Variant(
        "ttl-only",
        "the same cache, CACHE_INVALIDATE_INLINE=false and no invalidator: entries live their TTL",
        env={"CACHE_INVALIDATE_INLINE": "false", "CACHE_EVENTS_ENABLED": "true", **NO_RELAY},
        warms=True,
    ),
    Variant(
        "fastapi-cache2",
        "our cache off, the same GET routes under fastapi-cache2 @cache (TTL, no invalidation)",
        factory="bench.apps.fastapi_cache2_app:create_app",
        env=NO_RELAY,
        cache_header="x-fastapi-cache",
    ),
)


@dataclass
class Running:
    api: Service
    redis: PrivateRedis
    others: list[Service] = field(default_factory=list)
    cpu: CpuMeter = field(init=False)

    async def stop(self) -> None:
        """Done with this variant: its processes go (its Redis stays until the run ends)."""
        for service in (*self.others, self.api):
            await asyncio.to_thread(service.stop)

    def roles(self, name: str) -> dict[str, list[int]]:
        """The pids of these processes by role (`name`: the API's role)."""
        roles = {name: tree(self.api.pid), f"{name}: redis": tree(self.redis.pid)}
        for other in self.others:
            roles[f"{name}: {other.role}"] = tree(other.pid)
        return roles

    def watch_cpu(self, oracle: Running, database: str) -> None:
        """From now on `cpu` reads this variant's processes, the oracle's and PostgreSQL's."""
        self.cpu = CpuMeter(lambda: {**self.roles("api"), **oracle.roles("oracle api")}, database)

    async def empty_cache(self) -> None:
        """Every key but the streams (the invalidator's group lives on one) deleted."""
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            async for key in client.scan_iter(count=1000):
                if await client.type(key) not in (b"stream", "stream"):
                    await client.unlink(key)
        finally:
            await client.aclose()

    async def used_memory(self) -> int:
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            info: dict[str, Any] = await client.info("memory")
            return int(info["used_memory"])
        finally:
            await client.aclose()


def api_workers(profile: Profile) -> int:
    """The API's worker processes in every variant alike: the profile's, else `API_WORKERS`,
    else the product's default (README, "Running on more cores")."""
    return profile.api_workers or ApiSettings().api_workers


async def _start(service: Service) -> None:
    """Launch and wait for /ready: a loaded 2-core machine imports the API slowly."""
    service.launch()
    await wait_for_http(service.url + "/ready", within=START_TIMEOUT_S)


async def _private_redis(stack: AsyncExitStack) -> PrivateRedis:
    server = PrivateRedis()
    stack.callback(server.stop)
    server.launch()
    await server.wait_ready()
    return server


@asynccontextmanager
async def running(variant: Variant, database_url: str, workers: int) -> AsyncIterator[Running]:
    async with AsyncExitStack() as stack:
        server = await _private_redis(stack)
        env = service_env(database_url, server.url, f"bench-load-{uuid.uuid4().hex[:6]}")
        env.update(variant.env)
        api = Service(variant.factory, env, workers=workers)
        stack.callback(api.stop)
        run = Running(api, server)
        if variant.with_invalidator:
            consumer = invalidator(env)
            stack.callback(consumer.stop)
            run.others.append(consumer)
        await asyncio.gather(*(_start(service) for service in (api, *run.others)))
        yield run


@asynccontextmanager
async def oracle_api(database_url: str) -> AsyncIterator[Running]:
    """A cache-off API on the same database, its outbox relay off (it must not take events
    meant for the variant under test)."""
    async with AsyncExitStack() as stack:
        server = await _private_redis(stack)
        env = service_env(database_url, server.url, f"bench-oracle-{uuid.uuid4().hex[:6]}")
        env.update({"CACHE_ENABLED": "false", "OUTBOX_RELAY_ENABLED": "false"})
        api = Service("collabcache_api.main:create_app", env)
        stack.callback(api.stop)
        await _start(api)
        yield Running(api, server)
