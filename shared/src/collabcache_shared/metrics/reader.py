"""The read side of the aggregates: one `Snapshot` of every figure, in one round trip.

The windows are merged from their buckets: 1m from the last 60 per-second hashes, 5m from the
last 300, 1h from the last 60 per-minute hashes (the current minute included). All the
`HGETALL`s, the recent activity, the streams' lengths and consumer groups, `INFO` and `DBSIZE`
go in one pipeline (a Redis Cluster client sends the server figures separately). With
`history=True` the snapshot also keeps the hashes it read, for `history` (the last ten minutes,
README "Dashboard"): that adds only the invalidations' last few per-minute hashes to the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio.cluster import RedisCluster

from ..cache.keys import KeySpace
from ..cache.store import AnyRedis
from ..events import (
    CACHE_EVENTS_STREAM,
    DOMAIN_EVENTS_STREAM,
    INVALIDATION_EVENTS_STREAM,
    INVALIDATOR_GROUP,
    METRICS_GROUP,
)
from .figures import (
    InvalidationFigures,
    RawHash,
    WindowFigures,
    cache_figures,
    invalidation_figures,
    merge_fields,
)
from .history import MINUTES as HISTORY_MINUTES
from .history import PER_SECOND_SPAN as HISTORY_SECONDS
from .history import Buckets
from .layout import RECENT_CAPACITY, AggregateKeys

WINDOW_SECONDS = {"1m": 60, "5m": 300, "1h": 3600}
WINDOWS = tuple(WINDOW_SECONDS)
MINUTE_WINDOWS = frozenset({"1h"})  # merged from per-minute buckets; the others per-second
# Invalidations: the rate over the last minute, the lag over the last five.
INVALIDATION_WINDOWS = ("1m", "5m")
SERVER_FIELDS = {
    "used_memory": "used_memory",
    "connected_clients": "connected_clients",
    "commands_processed": "total_commands_processed",
    "uptime_seconds": "uptime_in_seconds",
    "keyspace_hits": "keyspace_hits",
    "keyspace_misses": "keyspace_misses",
    "evicted_keys": "evicted_keys",
    "expired_keys": "expired_keys",
}


@dataclass(frozen=True, slots=True)
class StreamState:
    length: int
    lag: int | None  # entries not yet delivered to the group (None: unknown, or no group)
    pending: int | None  # delivered and not yet acknowledged (None: no group)


@dataclass
class Snapshot:
    now_ms: int
    windows: dict[str, WindowFigures]
    invalidations: dict[str, InvalidationFigures]
    recent: list[dict[str, Any]] = field(default_factory=list)  # newest first
    server: dict[str, int] = field(default_factory=dict)  # SERVER_FIELDS and "keys"
    streams: dict[str, StreamState] = field(default_factory=dict)
    totals: WindowFigures | None = None  # since the aggregates began (Prometheus counters)
    invalidation_totals: InvalidationFigures | None = None
    buckets: Buckets | None = None  # the hashes read, when asked for the history


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _hash(reply: Any) -> RawHash:
    return reply if isinstance(reply, dict) else {}


def stream_state(length: Any, groups: Any, group: str) -> StreamState:
    size = length if isinstance(length, int) else 0
    for info in groups if isinstance(groups, list) else []:
        info = {_text(k): v for k, v in info.items()}
        if _text(info.get("name")) == group:
            lag = info.get("lag")
            return StreamState(size, int(lag) if lag is not None else None, int(info["pending"]))
    return StreamState(size, None, None)


def server_figures(info: Any, keys: Any) -> dict[str, int]:
    info = info if isinstance(info, dict) else {}
    figures = {name: int(info.get(source, 0) or 0) for name, source in SERVER_FIELDS.items()}
    figures["keys"] = keys if isinstance(keys, int) else 0
    return figures


def _recent(reply: Any) -> list[dict[str, Any]]:
    activity = []
    for raw in reply if isinstance(reply, list) else []:
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(item, dict):
            activity.append(item)
    return activity


class AggregateReader:
    def __init__(
        self, redis: AnyRedis, keyspace: KeySpace, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = redis
        self.cache = AggregateKeys.of(keyspace, CACHE_EVENTS_STREAM)
        self.invalidations = AggregateKeys.of(keyspace, INVALIDATION_EVENTS_STREAM)
        self.streams = {
            "cache_events": (keyspace.stream(CACHE_EVENTS_STREAM), METRICS_GROUP),
            "domain_events": (keyspace.stream(DOMAIN_EVENTS_STREAM), INVALIDATOR_GROUP),
        }
        self.clock = clock

    async def snapshot(
        self,
        windows: Sequence[str] = WINDOWS,
        *,
        invalidations: bool = True,
        totals: bool = False,
        history: bool = False,
        now: float | None = None,
    ) -> Snapshot:
        """Every figure as of `now` (the clock by default); raises what the client raises
        when Redis cannot be reached."""
        now_s = int(self.clock() if now is None else now)
        plan = _Plan(now_s, windows, invalidations, history)
        pipe = self.redis.pipeline(transaction=False)
        for second in plan.seconds:
            pipe.hgetall(self.cache.second(second))
        for minute in plan.minutes:
            pipe.hgetall(self.cache.minute(minute))
        for second in plan.invalidation_seconds:
            pipe.hgetall(self.invalidations.second(second))
        for minute in plan.invalidation_minutes:
            pipe.hgetall(self.invalidations.minute(minute))
        pipe.lrange(self.cache.recent, 0, RECENT_CAPACITY - 1)
        if totals:
            pipe.hgetall(self.cache.totals)
            pipe.hgetall(self.invalidations.totals)
        for stream, _ in self.streams.values():
            pipe.xlen(stream)
            pipe.xinfo_groups(stream)
        in_cluster = isinstance(self.redis, RedisCluster)
        if not in_cluster:
            pipe.info()
            pipe.dbsize()
        replies = iter(await pipe.execute(raise_on_error=False))
        second_hashes = [_hash(next(replies)) for _ in plan.seconds]
        minute_hashes = [_hash(next(replies)) for _ in plan.minutes]
        invalidation_hashes = [_hash(next(replies)) for _ in plan.invalidation_seconds]
        invalidation_minutes = [_hash(next(replies)) for _ in plan.invalidation_minutes]
        snapshot = Snapshot(
            now_ms=now_s * 1000,
            windows=plan.cache_windows(second_hashes, minute_hashes),
            invalidations=plan.invalidation_windows(invalidation_hashes),
            recent=_recent(next(replies)),
        )
        if history:
            snapshot.buckets = Buckets(
                now_s, second_hashes, minute_hashes, invalidation_hashes, invalidation_minutes
            )
        if totals:
            snapshot.totals = cache_figures(merge_fields([_hash(next(replies))]), 1)
            snapshot.invalidation_totals = invalidation_figures(
                merge_fields([_hash(next(replies))]), 1
            )
        for name, (_, group) in self.streams.items():
            snapshot.streams[name] = stream_state(next(replies), next(replies), group)
        if in_cluster:
            info, keys = await self._cluster_server_replies()
        else:
            info, keys = next(replies), next(replies)
        snapshot.server = server_figures(info, keys)
        return snapshot

    async def _cluster_server_replies(self) -> tuple[Any, Any]:
        try:
            return await self.redis.info(), await self.redis.dbsize()
        except Exception:  # a figure for the dashboard: not worth failing the snapshot for
            return {}, 0


class _Plan:
    """Which buckets a snapshot reads, and how they merge into its windows."""

    def __init__(
        self, now_s: int, windows: Sequence[str], invalidations: bool, history: bool = False
    ) -> None:
        unknown = set(windows) - set(WINDOW_SECONDS)
        if unknown:
            raise ValueError(f"unknown windows: {sorted(unknown)}")
        self.windows = list(windows)
        span = max((WINDOW_SECONDS[w] for w in windows if w not in MINUTE_WINDOWS), default=0)
        self.seconds = _last(now_s, max(span, HISTORY_SECONDS if history else 0))
        now_m = now_s // 60
        minute_span = 60 if MINUTE_WINDOWS & set(windows) else 0
        self.minutes = _last(now_m, max(minute_span, HISTORY_MINUTES if history else 0))
        lag_span = max(WINDOW_SECONDS[w] for w in INVALIDATION_WINDOWS) if invalidations else 0
        self.invalidation_seconds = _last(now_s, max(lag_span, HISTORY_SECONDS if history else 0))
        self.invalidation_minutes = _last(now_m, HISTORY_MINUTES if history else 0)

    def cache_windows(
        self, second_hashes: list[RawHash], minute_hashes: list[RawHash]
    ) -> dict[str, WindowFigures]:
        merged = _nested_merges(second_hashes, self.windows)
        figures = {w: cache_figures(merged[w], WINDOW_SECONDS[w]) for w in merged}
        if minute_hashes:
            for w in MINUTE_WINDOWS & set(self.windows):
                figures[w] = cache_figures(merge_fields(minute_hashes), WINDOW_SECONDS[w])
        return {w: figures[w] for w in self.windows}

    def invalidation_windows(self, hashes: list[RawHash]) -> dict[str, InvalidationFigures]:
        if not hashes:
            return {}
        merged = _nested_merges(hashes, INVALIDATION_WINDOWS)
        return {w: invalidation_figures(merged[w], WINDOW_SECONDS[w]) for w in merged}


def _last(now: int, span: int) -> list[int]:
    return list(range(now - span + 1, now + 1))


def _nested_merges(hashes: list[RawHash], windows: Iterable[str]) -> dict[str, dict[bytes, int]]:
    """The merged fields of each per-second window, shortest first, each built on the one
    before (the last 60 seconds are part of the last 300): every hash is added once."""
    spans = sorted(WINDOW_SECONDS[w] for w in windows if w not in MINUTE_WINDOWS)
    merged: dict[str, dict[bytes, int]] = {}
    fields: dict[bytes, int] = {}
    done = 0
    for span in spans:
        merge_fields(hashes[len(hashes) - span : len(hashes) - done], into=fields)
        done = span
        for w in windows:
            if WINDOW_SECONDS[w] == span:
                merged[w] = dict(fields)
    return merged
