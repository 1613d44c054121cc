"""Folding a batch of stream entries into increments of the aggregate hashes: pure, no I/O.

A batch becomes one `Fold`: for each hash it touches (per-second, per-minute, totals) the
increment of each field, when the hash expires, and the batch's most recent events. Entries
that are not valid events are counted and left out (they are acknowledged with the batch:
retrying cannot fix them). An event is filed under the second it happened (`at_ms`, never in
the future of the folding clock); buckets already past their retention are not written.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from ..events import CacheEvent, InvalidationApplied
from .histogram import bucket_of
from .layout import (
    RECENT_CAPACITY,
    SEP,
    AggregateKeys,
    minute_expires_at,
    second_expires_at,
    served,
)

DATA_FIELD = b"__data__"  # FastStream's (and the cache event sink's) message field
MAX_LABEL_LENGTH = 200
_LABEL = re.compile(r"[A-Za-z0-9_.\-/{}:]+")
# A path segment that is an identifier (a UUID, a number, a long hex string): a raw path.
_ID_SEGMENT = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}|\d+"
    r"|[0-9a-fA-F]{16,}"
)

Fields = Mapping[bytes, bytes]
E = TypeVar("E", bound=BaseModel)


def is_label(value: str) -> bool:
    """A route template or an event type: short, plain characters, no identifiers, so it can
    be a hash field part and a Prometheus label without exploding their cardinality."""
    if not value or len(value) > MAX_LABEL_LENGTH or not _LABEL.fullmatch(value):
        return False
    return not any(_ID_SEGMENT.fullmatch(segment) for segment in value.split("/"))


def _valid(event: BaseModel) -> bool:
    if isinstance(event, CacheEvent):
        return (
            is_label(event.endpoint)
            and is_label(event.family)
            and event.latency_ms >= 0
            and event.size >= 0
        )
    if isinstance(event, InvalidationApplied):
        return is_label(event.event_type) and event.keys >= 0
    return True


def decode(entries: Sequence[Fields], model: type[E]) -> tuple[list[E], int]:
    """The events of a batch of stream entries, and how many entries were not valid events."""
    events: list[E] = []
    for fields in entries:
        raw = fields.get(DATA_FIELD)
        try:
            event = model.model_validate_json(raw) if raw is not None else None
        except (ValidationError, ValueError):
            event = None
        if event is not None and _valid(event):
            events.append(event)
    return events, len(entries) - len(events)


@dataclass
class Fold:
    increments: dict[str, Counter[str]] = field(default_factory=dict)
    expire_at: dict[str, int] = field(default_factory=dict)  # absent: never expires
    recent: list[bytes] = field(default_factory=list)  # oldest first
    events: int = 0
    rejected: int = 0

    def add(self, key: str, fields: Mapping[str, int], expire_at: int | None = None) -> None:
        self.increments.setdefault(key, Counter()).update(fields)
        if expire_at is not None:
            self.expire_at[key] = expire_at


def _file(
    per_second: Mapping[int, Counter[str]], keys: AggregateKeys, now_s: int, fold: Fold
) -> Fold:
    """Write per-second counters to their second, minute and totals hashes."""
    per_minute: dict[int, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for second, fields in per_second.items():
        if second_expires_at(second) > now_s:
            fold.add(keys.second(second), fields, second_expires_at(second))
        per_minute.setdefault(second // 60, Counter()).update(fields)
        totals.update(fields)
    for minute, fields in per_minute.items():
        if minute_expires_at(minute) > now_s:
            fold.add(keys.minute(minute), fields, minute_expires_at(minute))
    if totals:
        fold.add(keys.totals, totals)
    return fold


def _second_of(at_ms: int, now_s: int) -> int:
    return min(at_ms // 1000, now_s)


def fold_cache_events(
    events: Iterable[CacheEvent], keys: AggregateKeys, now_s: int, rejected: int = 0
) -> Fold:
    per_second: dict[int, Counter[str]] = {}
    recent: list[CacheEvent] = []
    count = 0
    for e in events:
        fields = per_second.setdefault(_second_of(e.at_ms, now_s), Counter())
        s = served(e.outcome)
        ep = e.endpoint
        fields[f"n{SEP}{e.outcome}{SEP}{ep}"] += 1
        fields[f"b{SEP}{ep}"] += e.size
        fields[f"l{SEP}{s}{SEP}{bucket_of(e.latency_ms)}{SEP}{ep}"] += 1
        fields[f"u{SEP}{s}{SEP}{ep}"] += round(e.latency_ms * 1000)
        recent.append(e)
        count += 1
    fold = _file(per_second, keys, now_s, Fold(events=count, rejected=rejected))
    fold.recent = [_activity(e) for e in recent[-RECENT_CAPACITY:]]
    return fold


def _activity(e: CacheEvent) -> bytes:
    return orjson.dumps(
        {
            "at_ms": e.at_ms,
            "endpoint": e.endpoint,
            "family": e.family,
            "outcome": e.outcome,
            "latency_ms": e.latency_ms,
        }
    )


def fold_invalidations(
    events: Iterable[InvalidationApplied], keys: AggregateKeys, now_s: int, rejected: int = 0
) -> Fold:
    per_second: dict[int, Counter[str]] = {}
    count = 0
    for e in events:
        fields = per_second.setdefault(_second_of(e.at_ms, now_s), Counter())
        lag = max(0.0, e.lag_ms)
        fields[f"n{SEP}{e.event_type}"] += 1
        fields["k"] += e.keys
        fields[f"l{SEP}{bucket_of(lag)}"] += 1
        fields["u"] += round(lag * 1000)
        count += 1
    return _file(per_second, keys, now_s, Fold(events=count, rejected=rejected))
