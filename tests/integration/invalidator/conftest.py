"""The invalidator against the run's real Redis, each test under a key prefix of its own
(`prefix`, `settings_under`, `keyspace`, `redis` and `cache` are tests/conftest.py's and
tests/integration/conftest.py's): its streams, group and cache entries collide with nothing and
are removed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faststream.redis import RedisBroker


@pytest.fixture
async def relay(servers: dict[str, str]) -> AsyncIterator[RedisBroker]:
    """A publisher as the API's outbox relay has one: a connected FastStream RedisBroker."""
    broker = RedisBroker(servers["redis"])
    await broker.connect()
    yield broker
    await broker.stop()
