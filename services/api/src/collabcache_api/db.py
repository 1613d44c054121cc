"""The database engine, and a unit of work for loads outside a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from collabcache_shared.settings import DatabaseSettings

from .unit_of_work import UnitOfWork


def make_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "collabcache-api",
                # Read by the outbox triggers: events of API writes say where they came from.
                "collabcache.source": "api",
            }
        },
    )


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The engine (same pool) in autocommit: each statement runs on its own, as it would in a
    READ COMMITTED transaction (PostgreSQL's default: a snapshot per statement), without the
    BEGIN and COMMIT round trips a read has no use for."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A transaction of its own for a load outside a request's (a background refresh):
    committed at the end, rolled back on error. It writes nothing, so no step runs around its
    commit; a request's transaction is `unit_of_work.request_transaction`."""
    async with factory() as session, UnitOfWork(session) as uow:
        yield session
        await uow.commit()
