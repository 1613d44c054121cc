"""The API's composition root: the lifespan builds settings, engine and clients, once.

Importing any module of the service connects to nothing; only `lifespan` does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from collabcache_shared.settings import ApiSettings, RedisSettings
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .db import make_engine, make_sessionmaker

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: ApiSettings
    redis_settings: RedisSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


def build_container(settings: ApiSettings, redis_settings: RedisSettings) -> Container:
    engine = make_engine(settings)
    return Container(
        settings=settings,
        redis_settings=redis_settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
    )


def make_lifespan(settings: ApiSettings, redis_settings: RedisSettings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = build_container(settings, redis_settings)
        app.state.container = container
        log.info(
            "api starting: environment=%s database=%s redis=%s",
            settings.environment,
            settings.redacted_database_url(),
            redis_settings.redacted_dsn(),
        )
        try:
            yield
        finally:
            await container.engine.dispose()

    return lifespan
