"""A new Redis connection costs no scan of the installed packages: the client hands redis-py
its name and version (CLIENT SETINFO), which it would otherwise look up in the packages'
metadata for every connection it opens (a burst of them at a cold start)."""

from __future__ import annotations

import pytest
import redis.utils

from collabcache_shared.cache.client import make_redis
from collabcache_shared.settings import RedisSettings


def _no_lookup() -> str:
    raise AssertionError("redis-py looked its version up for a new connection")


def test_new_connections_look_nothing_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis.utils, "get_lib_version", _no_lookup)
    client = make_redis(RedisSettings(url="redis://127.0.0.1:6379/0"))
    connection = client.connection_pool.make_connection()  # type: ignore[union-attr]
    assert connection.driver_info is not None
    assert connection.driver_info.lib_version == redis.__version__
