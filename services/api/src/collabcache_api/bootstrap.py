"""The API's composition root: the lifespan builds settings, engine and clients, once.

Importing any module of the service connects to nothing; only `lifespan` does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from collabcache_shared.background import cancel_until_done
from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.cache.reporting import CacheEventSink
from collabcache_shared.cache.store import AnyRedis, EntryStore
from collabcache_shared.events import CACHE_EVENTS_STREAM
from collabcache_shared.settings import ApiSettings, CacheSettings, OutboxSettings, RedisSettings
from collabcache_shared.telemetry import tracing

from .db import make_engine, make_sessionmaker, read_only
from .outbox.relay import OutboxRelay, build_relay

if TYPE_CHECKING:
    from .caching.refresh_ahead import RefreshAhead

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: ApiSettings
    redis_settings: RedisSettings
    cache_settings: CacheSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # For reads (GET, HEAD, OPTIONS): autocommit, no BEGIN and COMMIT round trips.
    read_sessions: async_sessionmaker[AsyncSession]
    redis: AnyRedis
    keyspace: KeySpace
    cache: CacheManager | None  # None when the cache is switched off (CACHE_ENABLED=false)
    cache_events: CacheEventSink | None
    outbox_relay: OutboxRelay | None = None  # None when OUTBOX_RELAY_ENABLED=false
    # None with the cache, inline invalidation or CACHE_REFRESH_AHEAD off (README, "Refresh-ahead")
    refresh_ahead: RefreshAhead | None = None
    tracer_provider: TracerProvider | None = None  # None: tracing is off


# Probes are not traced: one trace every few seconds per replica says nothing.
UNTRACED_URLS = "/health$,/ready$"
SQLALCHEMY_INSTRUMENTATION = "opentelemetry.instrumentation.sqlalchemy"
CONNECTIONS_USAGE = "db.client.connections.usage"  # a metric: not recorded (no-op meter)


def instrument_app(app: FastAPI, provider: TracerProvider | None) -> None:
    """A server span per request (no spans per ASGI message); nothing without a provider."""
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED_URLS,
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: AsyncEngine, provider: TracerProvider | None) -> None:
    """A span per SQL statement of this engine, with `provider`'s tracer.

    `EngineTracer` is what `SQLAlchemyInstrumentor().instrument(engine=...)` builds, minus the
    process-wide patching of `create_engine` and `Engine.connect` with the first caller's tracer
    (the instrumentor is a singleton): each engine gets its own service's provider."""
    if provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeter

    tracer = provider.get_tracer(SQLALCHEMY_INSTRUMENTATION)
    usage = NoOpMeter(SQLALCHEMY_INSTRUMENTATION).create_up_down_counter(CONNECTIONS_USAGE)
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]


def build_container(
    settings: ApiSettings,
    redis_settings: RedisSettings,
    cache_settings: CacheSettings,
    outbox_settings: OutboxSettings | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Container:
    engine = make_engine(settings)
    instrument_engine(engine, tracer_provider)
    redis = make_redis(redis_settings)
    tracing.instrument_redis(redis, tracer_provider)
    keyspace = KeySpace(prefix=redis_settings.key_prefix)
    cache = None
    if cache_settings.enabled:
        cache = CacheManager(EntryStore(redis, keyspace), cache_settings)
    sink = None
    if cache_settings.events_enabled:
        sink = CacheEventSink(
            redis,
            keyspace.stream(CACHE_EVENTS_STREAM),
            maxlen=cache_settings.events_maxlen,
            buffer=cache_settings.events_buffer,
            flush_seconds=cache_settings.events_flush_seconds,
        )
    outbox_settings = outbox_settings or OutboxSettings()
    relay = None
    if outbox_settings.relay_enabled:
        relay = build_relay(settings, redis_settings, outbox_settings, keyspace, tracer_provider)
    return Container(
        settings=settings,
        redis_settings=redis_settings,
        cache_settings=cache_settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        read_sessions=make_sessionmaker(read_only(engine)),
        redis=redis,
        keyspace=keyspace,
        cache=cache,
        cache_events=sink,
        outbox_relay=relay,
        tracer_provider=tracer_provider,
    )


def make_lifespan(
    settings: ApiSettings,
    redis_settings: RedisSettings,
    cache_settings: CacheSettings,
    outbox_settings: OutboxSettings | None = None,
    tracer_provider: TracerProvider | None = None,
    *,
    owns_tracer_provider: bool = False,
    after_start: Callable[[Container], Coroutine[Any, Any, object]] | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """`owns_tracer_provider`: the provider was built for this app, which shuts it down (its
    last spans sent) after everything else stopped. `after_start`: a background task started
    once the app is up (the warm at start), cancelled at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = build_container(
            settings, redis_settings, cache_settings, outbox_settings, tracer_provider
        )
        app.state.container = container
        if container.cache and cache_settings.invalidate_inline and cache_settings.refresh_ahead:
            from .caching.refresh_ahead import RefreshAhead  # it loads through the container

            container.refresh_ahead = RefreshAhead(container, cache_settings)
        log.info(
            "api starting: environment=%s database=%s redis=%s cache=%s tracing=%s",
            settings.environment,
            settings.redacted_database_url(),
            redis_settings.redacted_dsn(),
            "on" if container.cache else "off",
            "on" if tracer_provider else "off",
        )
        if container.cache_events:
            container.cache_events.start()
        if container.outbox_relay:
            container.outbox_relay.start()
        started: list[asyncio.Task[object]] = []
        if after_start is not None:
            started.append(asyncio.create_task(after_start(container)))
        try:
            yield
        finally:
            await cancel_until_done(started)
            if container.outbox_relay:
                await container.outbox_relay.stop()
            if container.refresh_ahead:
                await container.refresh_ahead.aclose()
            if container.cache_events:
                await container.cache_events.stop()
            if container.cache:
                await container.cache.aclose()
            await container.redis.aclose()
            await container.engine.dispose()
            if owns_tracer_provider:
                await asyncio.to_thread(tracing.shutdown, tracer_provider)

    return lifespan
