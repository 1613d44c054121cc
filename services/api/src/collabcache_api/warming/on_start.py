"""The warm at start (`API_WARM_ON_START`): run once per deployment start, in the one process
that takes the deployment's warm lock (a Redis key set only if absent), in the background:
the API serves from the first moment, and the warm's bounded workers leave it the most of the
database (README, "Cache warming")."""

from __future__ import annotations

import logging
import uuid

from ..bootstrap import Container
from .run import WarmReport, warm

log = logging.getLogger(__name__)
WARM_LOCK = "warm"
# Held until it expires, not released: the other workers and replicas starting meanwhile skip
# their warm (one warm per deployment start), and a restart after this long warms again.
LOCK_SECONDS = 600


async def warm_on_start(container: Container) -> WarmReport | None:
    """The warm's report, or None when another process warms (or the cache is off)."""
    if container.cache is None:
        return None
    try:
        key = container.keyspace.lock(WARM_LOCK)
        if not await container.redis.set(key, uuid.uuid4().hex, nx=True, ex=LOCK_SECONDS):
            log.info("warm at start: another process of the deployment warms the cache")
            return None
        report = await warm(container)
    except Exception:
        log.exception("warm at start failed (the cache fills on demand)")
        return None
    for line in report.lines():
        log.info("warm at start: %s", line)
    return report
