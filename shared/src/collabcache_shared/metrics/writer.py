"""The write side of the aggregates: a folded batch applied and acknowledged in ONE MULTI/EXEC.

Why exactly once. A consumer reads a batch with XREADGROUP: its entries become pending for
that consumer, and stay pending (in Redis, not in the consumer) until acknowledged. `apply`
queues the batch's fold (per hash, one EVAL of its HINCRBYs and its EXPIREAT), the
recent-activity LPUSH/LTRIM and the XACK of exactly that batch's entry ids in one
MULTI/EXEC. Redis runs a transaction whole at EXEC, or not at all: a consumer that dies
before EXEC leaves no increment behind (the queued transaction dies with its connection) and
its entries pending; one that dies after has both counted and acknowledged them. So a crash
can neither lose a batch (pending entries are claimed by a live consumer after the claim idle
time and folded then) nor count one twice (counting and acknowledging are the same atomic
step: an acknowledged entry is never read again, a counted one is always acknowledged). Two
rules keep it so:

- the client used here must not retry: retrying a transaction whose EXEC ran but whose reply
  was lost would count it twice. A failed `apply` raises; the entries either were applied and
  acknowledged (EXEC ran) or stay pending for a claim (it did not): exact either way;
- an entry is claimed only once idle for the claim idle time, and the consumer that read it
  sends EXEC within half that time or gives up (`apply(..., deadline=...)`), so the reader and
  a claimer never both count it.

Why in Redis and not in the process: restart-safe (a restarted or replaced consumer loses
nothing and resumes from the group), identical for every replica (replicas split the stream
between them, so each process alone sees only part of it; the aggregates in Redis are the
whole, and any replica, or the API's admin endpoint, reads the same figures), and the
aggregate update is the acknowledgement itself, which is what makes it exact. Every key shares
the stream's hash slot (`layout`), so the transaction is valid on a Redis Cluster too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..cache.store import AnyRedis
from .fold import Fold
from .layout import MINUTE_RETENTION, RECENT_CAPACITY, AggregateKeys

# One hash's increments in one command (a batch touches a few hashes and thousands of fields).
# EVAL, not EVALSHA: inside MULTI a NOSCRIPT would only surface at EXEC, after the rest ran.
INCREMENT = """
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
if ARGV[1] ~= '0' then
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
return #ARGV / 2
"""


class DeadlinePassed(RuntimeError):
    """The batch was read too long ago: it is left pending for a claim instead."""


class AggregateWriter:
    def __init__(
        self,
        redis: AnyRedis,
        keys: AggregateKeys,
        group: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.group = group
        self.clock = clock

    async def apply(self, fold: Fold, ids: Sequence[bytes], deadline: float | None = None) -> None:
        """Apply the fold and acknowledge `ids` (the entries it was folded from) atomically.
        `deadline` (on this writer's monotonic clock): past it, nothing is sent."""
        pipe = self.redis.pipeline(transaction=True)
        for key, fields in fold.increments.items():
            pairs = [part for name, n in fields.items() if n for part in (name, n)]
            pipe.eval(INCREMENT, 1, key, fold.expire_at.get(key, 0), *pairs)
        if fold.recent:
            pipe.lpush(self.keys.recent, *fold.recent)
            pipe.ltrim(self.keys.recent, 0, RECENT_CAPACITY - 1)
            pipe.expire(self.keys.recent, MINUTE_RETENTION)
        if ids:
            pipe.xack(self.keys.stream, self.group, *ids)
        if len(pipe) == 0:
            return
        if deadline is not None and self.clock() > deadline:
            raise DeadlinePassed(f"{len(ids)} entries left pending for a claim")
        await pipe.execute()
