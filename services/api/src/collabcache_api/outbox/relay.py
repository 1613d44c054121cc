"""The outbox relay: moves committed domain events from PostgreSQL to the Redis stream.

A background task of the API. It holds one asyncpg connection of its own, which LISTENs on
`collabcache_outbox` (the triggers NOTIFY on every change) and runs the rounds; a periodic poll
is the safety net for a missed notification. A round publishes a batch, in order, then deletes
it, in one transaction: a relay that dies at any point leaves the rows in the outbox, and the
next round (of this relay or another replica's) sends them. Delivery is at least once: if the
commit fails after Redis took the batch, the batch goes out again.

When Redis is down the round rolls back, the rows wait in order, and the relay retries with a
capped backoff; when the database connection drops, it reconnects and catches up at once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import asyncpg
from opentelemetry.sdk.trace import TracerProvider

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import DOMAIN_EVENTS_STREAM
from collabcache_shared.settings import DatabaseSettings, OutboxSettings, RedisSettings

from . import repository
from .publisher import PublishFailed, StreamPublisher, make_broker

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0
QUERY_TIMEOUT_SECONDS = 10.0  # a round's query that takes longer means a dead connection
CLOSE_TIMEOUT_SECONDS = 1.0


class Backoff:
    """Exponential delays, from `first` up to `cap`, until `reset`."""

    def __init__(self, cap: float, first: float = 0.05) -> None:
        self._first = min(first, cap)
        self._cap = cap
        self._next = self._first

    async def sleep(self) -> None:
        delay, self._next = self._next, min(self._next * 2, self._cap)
        await asyncio.sleep(delay)

    def reset(self) -> None:
        self._next = self._first


class OutboxRelay:
    def __init__(self, database_url: str, publisher: StreamPublisher, settings: OutboxSettings):
        self._dsn = repository.asyncpg_dsn(database_url)
        self.publisher = publisher
        self._settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._db_backoff = Backoff(settings.retry_backoff_max_seconds)
        self._publish_backoff = Backoff(settings.retry_backoff_max_seconds)
        self._redis_failing = False
        self.published = 0  # rows this relay has published (and deleted) since it was built

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # A cancellation swallowed inside a library call must not hang the shutdown.
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
            if not done:
                log.warning("outbox relay did not stop within %ss", STOP_TIMEOUT_SECONDS)
        await self.publisher.close()

    async def run(self) -> None:
        """Forever: connect, catch up, then a round on every notification or poll tick."""
        while True:
            try:
                conn = await self._connect()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox relay cannot connect to the database: %s", exc)
                await self._db_backoff.sleep()
                continue
            try:
                await self._serve(conn)
            except Exception as exc:  # whatever broke, the rows are safe: reconnect and go on
                if _being_cancelled():
                    raise
                log.warning("outbox relay round failed (%s): reconnecting", exc)
                await self._db_backoff.sleep()
            finally:
                await _close(conn)

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT_SECONDS,
            command_timeout=QUERY_TIMEOUT_SECONDS,
            server_settings={"application_name": "collabcache-outbox-relay"},
        )
        try:
            await conn.add_listener(repository.CHANNEL, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._on_terminated)
        return conn

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def _on_terminated(self, _: object) -> None:
        self._wake.set()  # the next round fails on the closed connection: reconnect

    async def _serve(self, conn: asyncpg.Connection) -> None:
        self._wake.set()  # rows may have been committed while nobody listened
        while not conn.is_closed():
            if _being_cancelled():
                raise asyncio.CancelledError
            await self._wait_for_work()
            self._wake.clear()  # a notification arriving during the drain sets it again
            await self._drain(conn)
            self._db_backoff.reset()

    async def _wait_for_work(self) -> None:
        with suppress(TimeoutError):
            async with asyncio.timeout(self._settings.poll_interval_seconds):
                await self._wake.wait()

    async def _drain(self, conn: asyncpg.Connection) -> None:
        """Rounds until the outbox has less than a batch left: no sleep while work remains."""
        while True:
            try:
                count = await self._round(conn)
            except PublishFailed as exc:
                self._report_redis_failure(exc)
                await self._publish_backoff.sleep()
                continue
            self._report_redis_recovered()
            if count < self._settings.batch_size:
                return

    async def _round(self, conn: asyncpg.Connection) -> int:
        async with conn.transaction():
            if not await repository.try_lead(conn):
                return 0  # another relay is publishing: it also heard the notification
            rows = await repository.claim(conn, self._settings.batch_size)
            if not rows:
                return 0
            await self.publisher.publish(rows)
            await repository.delete(conn, rows)
        self.published += len(rows)
        return len(rows)

    def _report_redis_failure(self, exc: PublishFailed) -> None:
        if not self._redis_failing:
            log.warning("outbox relay cannot publish, events wait in the outbox: %s", exc)
        self._redis_failing = True

    def _report_redis_recovered(self) -> None:
        self._publish_backoff.reset()
        if self._redis_failing:
            log.warning("outbox relay publishes again")
        self._redis_failing = False


def _being_cancelled() -> bool:
    """True when the task was cancelled and a cleanup error hides the CancelledError."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _close(conn: asyncpg.Connection) -> None:
    if conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT_SECONDS)
    except asyncio.CancelledError:
        conn.terminate()
        raise
    except Exception:
        conn.terminate()


def build_relay(
    database: DatabaseSettings,
    redis_settings: RedisSettings,
    settings: OutboxSettings,
    keyspace: KeySpace | None = None,
    tracer_provider: TracerProvider | None = None,
) -> OutboxRelay:
    """A relay to the deployment's domain-events stream; nothing connects before `start`.
    With a `tracer_provider`, every event it publishes continues its request's trace."""
    keyspace = keyspace or KeySpace(prefix=redis_settings.key_prefix)
    stream = keyspace.stream(DOMAIN_EVENTS_STREAM)
    broker = make_broker(redis_settings, settings, tracer_provider)
    publisher = StreamPublisher(broker, stream, settings, tracer_provider)
    return OutboxRelay(database.database_url, publisher, settings)
