"""Where the aggregates live in Redis and how their hash fields are named.

Per stream (cache events, invalidations) there are per-second hashes (kept ~6 minutes),
per-minute hashes (kept ~65 minutes), an all-time totals hash (Prometheus counters must never
go down) and a short list of recent events. Every key carries the stream's own key as its hash
tag, so the aggregates and the stream they are folded from share one Redis Cluster slot: one
MULTI/EXEC can update them and XACK the stream.

Fields of a cache-events hash (`<endpoint>` is a route template, `<s>` is `c` for requests
served from the cache, HIT or STALE, and `o` for the others, MISS or BYPASS):
  `n|<OUTCOME>|<endpoint>`   requests          `b|<endpoint>`         response bytes
  `l|<s>|<bucket>|<endpoint>` latency histogram `u|<s>|<endpoint>`     latency sum (µs)
Fields of an invalidations hash:
  `n|<event type>` events   `k` keys invalidated   `l|<bucket>` lag histogram   `u` lag sum (µs)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cache.keys import KeySpace

FORMAT_VERSION = 1
SECOND_RETENTION = 370  # seconds a per-second bucket lives: the 5 minute window and margin
MINUTE_RETENTION = 65 * 60  # seconds a per-minute bucket lives beyond its minute
RECENT_CAPACITY = 20

SEP = "|"
CACHED, ORIGIN = "c", "o"
CACHED_OUTCOMES = frozenset({"HIT", "STALE"})
OUTCOMES = ("HIT", "MISS", "BYPASS", "STALE")


@dataclass(frozen=True, slots=True)
class AggregateKeys:
    """The aggregate keys of one stream."""

    stream: str  # the stream's key: also the hash tag of every aggregate key
    base: str

    @classmethod
    def of(cls, keyspace: KeySpace, stream_name: str) -> AggregateKeys:
        stream = keyspace.stream(stream_name)
        return cls(stream, f"{keyspace.prefix}:metrics:v{FORMAT_VERSION}:{{{stream}}}")

    def second(self, epoch_second: int) -> str:
        return f"{self.base}:s:{epoch_second}"

    def minute(self, epoch_minute: int) -> str:
        return f"{self.base}:m:{epoch_minute}"

    @property
    def totals(self) -> str:
        return f"{self.base}:total"

    @property
    def recent(self) -> str:
        return f"{self.base}:recent"


def served(outcome: str) -> str:
    return CACHED if outcome in CACHED_OUTCOMES else ORIGIN


def second_expires_at(epoch_second: int) -> int:
    return epoch_second + SECOND_RETENTION


def minute_expires_at(epoch_minute: int) -> int:
    return (epoch_minute + 1) * 60 + MINUTE_RETENTION
