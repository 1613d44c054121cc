"""Removing a test's Redis keys: every key under its prefix (README, "Tests": each test run
has a key prefix of its own)."""

from __future__ import annotations

import redis

UNLINK_CHUNK = 500


def drop_keys(redis_url: str, prefix: str) -> int:
    """Unlink every key named `<prefix>:...` on the Redis at `redis_url`; how many there were."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), UNLINK_CHUNK):
            client.unlink(*keys[start : start + UNLINK_CHUNK])
        return len(keys)
    finally:
        client.close()
