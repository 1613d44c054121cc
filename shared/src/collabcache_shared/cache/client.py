"""Building the Redis client from settings: standalone or cluster, TLS, short timeouts."""

from __future__ import annotations

from typing import Any

import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.driver_info import DriverInfo

from ..settings import RedisSettings
from .store import AnyRedis


def redis_options(settings: RedisSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "retry": Retry(
            ExponentialWithJitterBackoff(
                cap=settings.retry_backoff_cap, base=settings.retry_backoff_base
            ),
            settings.retry_attempts,
        ),
        "health_check_interval": settings.health_check_interval,
        "max_connections": settings.max_connections,
        # What CLIENT SETINFO reports, given: left out, redis-py looks its own version up in
        # the installed packages' metadata for every connection it opens (a scan of
        # site-packages, ~1 ms of CPU each here, in a burst when a cold start opens many).
        "driver_info": DriverInfo(name="redis-py", lib_version=redis.__version__),
    }
    if settings.uses_tls:
        options["ssl_cert_reqs"] = settings.ssl_cert_reqs
        if settings.ssl_ca_certs:
            options["ssl_ca_certs"] = settings.ssl_ca_certs
    return options


def make_redis(settings: RedisSettings) -> AnyRedis:
    """A client that connects lazily (constructing it connects to nothing)."""
    options = redis_options(settings)
    if settings.cluster:
        options.pop("health_check_interval")
        return RedisCluster.from_url(settings.dsn, **options)
    pool = BlockingConnectionPool.from_url(settings.dsn, timeout=settings.pool_timeout, **options)
    return Redis.from_pool(pool)
