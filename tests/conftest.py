"""Test servers for every tier.

Integration tests run against the real PostgreSQL and Redis named by `DATABASE_URL` and
`REDIS_URL`. Where those are unset, a Docker engine (testcontainers) is used if one answers,
and the local default ports otherwise. Each run creates its own database and Redis key prefix
and removes them afterwards, so concurrent runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from collabcache_shared.cache.keys import KeySpace
from tests.redis_keys import drop_keys

pytest_plugins = ["tests.hang_report"]

# Tests share two cores with PostgreSQL, Redis and the services they start: production's
# tens-of-milliseconds Redis timeouts would trip the breaker under that load and turn HITs into
# BYPASSes. Tests of timeouts and failures set their own short timeouts explicitly.
os.environ.setdefault("REDIS_SOCKET_TIMEOUT", "0.5")
os.environ.setdefault("CACHE_OPERATION_TIMEOUT_SECONDS", "1.0")
# Likewise the wait for a free pooled connection: a test's burst of 200 concurrent readers on
# 64 connections waits its turn rather than tripping the breaker on a loaded machine.
os.environ.setdefault("REDIS_POOL_TIMEOUT", "1.0")

# A new Redis server grants no lease for CACHE_FENCE_SECONDS (it may have lost writes' fences:
# README, "The fenced cache protocol"); tests that start or restart one wait that long, so a
# short period keeps them quick. Tests of fence expiry set their own.
os.environ.setdefault("CACHE_FENCE_SECONDS", "2")
os.environ.setdefault("CACHE_FENCE_COMMIT_MARGIN_SECONDS", "1")

# Tests that bound a wait, race a timeout or run whole stacks as processes: `make test` runs
# them after the rest, one at a time (the rest share the cores: README, "Tests").
ALONE = (
    "tests/history/",
    "tests/e2e/",
    "tests/integration/cache/",
    "tests/integration/invalidator/",
    "tests/integration/metrics/",
    "tests/integration/outbox/",
    "tests/integration/pipeline/",
    "tests/integration/tracing/",
    "tests/integration/cache_http/test_stampede.py",
    "tests/integration/cache_http/test_stale_analytics.py",
    "tests/integration/test_redis_tls.py",
    "tests/integration/test_worker_ready.py",
    "tests/integration/worker/test_kit.py",
)


# Every test's tier is the folder it lives in (`make test-fast` runs `unit`; README, "Tests"):
# `-m unit`, `-m "integration and not alone"` and the like select by it.
TIERS = ("unit", "integration", "e2e", "history")
TESTS = Path(__file__).resolve().parent


def _tier_of(item: pytest.Item) -> str:
    parts = item.path.resolve().relative_to(TESTS).parts
    if len(parts) < 2 or parts[0] not in TIERS:
        raise pytest.UsageError(f"{item.nodeid}: a test lives in tests/<tier>/, one of {TIERS}")
    return parts[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(_tier_of(item))
        if item.nodeid.startswith(ALONE):
            item.add_marker(pytest.mark.alone)


LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    """Admin URLs of the PostgreSQL and Redis servers this run uses."""
    pg = os.environ.get("DATABASE_URL")
    redis = os.environ.get("REDIS_URL")
    with ExitStack() as stack:
        if (pg is None or redis is None) and _docker_answers():
            from testcontainers.postgres import PostgresContainer
            from testcontainers.redis import RedisContainer

            if pg is None:
                container = stack.enter_context(PostgresContainer("postgres:15-alpine"))
                pg = container.get_connection_url(driver=None)
            if redis is None:
                rc = stack.enter_context(RedisContainer("redis:7-alpine"))
                redis = f"redis://{rc.get_container_host_ip()}:{rc.get_exposed_port(6379)}/0"
        yield {"postgres": pg or LOCAL_POSTGRES, "redis": redis or LOCAL_REDIS}


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def prefix(servers: dict[str, str], run_id: str) -> Iterator[str]:
    """A Redis key prefix of the test's own; every key under it is removed afterwards."""
    value = f"cctest:{run_id}:{uuid.uuid4().hex[:8]}"
    yield value
    drop_keys(servers["redis"], value)


@pytest.fixture
def keyspace(prefix: str) -> KeySpace:
    """The test's own key space: its cache entries and streams collide with nothing."""
    return KeySpace(prefix=prefix)
