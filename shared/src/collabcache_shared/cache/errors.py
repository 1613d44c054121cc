"""What the cache layer raises, and the Redis failures it catches."""

from __future__ import annotations

from redis.exceptions import RedisError

REDIS_FAILURES = (RedisError, OSError, TimeoutError)


class RedisUnavailable(Exception):
    """Redis is not usable now (the breaker is open, or the call failed): read from PostgreSQL."""


class FenceUnavailable(Exception):
    """A write's fence could not be placed: the write must not commit (answer 503)."""


class FenceExpired(Exception):
    """A write took so long that its fence may be gone before it commits: roll back (503)."""
