"""A deployment in miniature for the history check: processes, as README "Running with Docker
Compose" runs them, on loopback.

A fresh migrated database with an owner and a few users (tokens included), a private
`redis-server` (which the faults may pause, freeze or restart), two API replicas (uvicorn, the
outbox relay on in both) and one invalidator, all on one key prefix. Start and stop are
synchronous (the database helpers run their own event loop); the faults' restarts are async.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from contextlib import ExitStack
from types import TracebackType

import asyncpg

from bench.pipeline_stack import Service, api, invalidator, service_env
from bench.support import wait_for_http
from collabcache_shared.settings import ApiSettings
from tests.databases import migrated_database
from tests.integration.builders import Builder, Person
from tests.integration.cache.redis_server import RedisServer, temp_directory

REPLICAS = 2
READY_WITHIN_SECONDS = 90.0  # two cold API imports on two busy cores


class Cluster:
    def __init__(self, admin_url: str, users: int = 64, env: dict[str, str] | None = None) -> None:
        self.admin_url = admin_url
        self.user_count = users
        self.extra_env = env or {}
        self.run_id = uuid.uuid4().hex[:10]
        self.database_url = ""
        self.owner: Person
        self.users: list[Person] = []
        self.redis = RedisServer(temp_directory("history"))
        self.replicas: list[Service] = []
        self.invalidator: Service
        self._exit = ExitStack()

    def __enter__(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit.close()

    def _start(self) -> None:
        name = f"cc_history_{self.run_id}"
        self.database_url = self._exit.enter_context(migrated_database(self.admin_url, name))
        self.owner, *self.users = asyncio.run(_people(self.database_url, self.user_count + 1))
        self._exit.callback(self.redis.stop)
        self.redis.start()
        env = service_env(self.database_url, self.redis.url, f"cchist:{self.run_id}")
        env.update(self.extra_env)
        self.replicas = [api(env) for _ in range(REPLICAS)]
        self.invalidator = invalidator(env)
        for service in self.services:
            self._exit.callback(service.stop)
            service.launch()
        asyncio.run(self.wait_ready())

    @property
    def services(self) -> list[Service]:
        return [*self.replicas, self.invalidator]

    async def wait_ready(self) -> None:
        """Every process up and answering /ready (the API's needs PostgreSQL, the invalidator's
        its Redis broker)."""
        urls = [service.url + "/ready" for service in self.services]
        await asyncio.gather(*(wait_for_http(url, READY_WITHIN_SECONDS) for url in urls))

    async def db(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.database_url)

    # The faults' levers on the processes (the Redis server has its own: RedisServer).
    def signal(self, service: Service, signum: signal.Signals) -> None:
        if service.process is not None and service.process.poll() is None:
            os.kill(service.process.pid, signum)

    def kill(self, service: Service) -> None:
        """SIGKILL: no shutdown, no cleanup; the port refuses connections until relaunched."""
        if service.process is not None:
            self.signal(service, signal.SIGCONT)
            service.process.kill()
            service.process.wait(timeout=10)
            service.process = None

    async def relaunch(self, service: Service) -> None:
        """Start again on the same port and wait until it answers /ready."""
        if service.process is None or service.process.poll() is not None:
            service.launch()
        await wait_for_http(service.url + "/ready", READY_WITHIN_SECONDS)


async def _people(database_url: str, count: int) -> list[Person]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        build = Builder(pool, ApiSettings(environment="test", database_url=database_url))
        return [await build.user("owner" if i == 0 else f"u{i}") for i in range(count)]
    finally:
        await pool.close()
