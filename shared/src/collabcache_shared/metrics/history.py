"""The recent history of the aggregates, for the dashboard's first paint (README, "Dashboard").

A snapshot read with `history=True` keeps the bucket hashes it read anyway (the last 300
per-second hashes of each stream, the last minutes' per-minute ones) as `Buckets`; nothing more
is asked of Redis but the last few per-minute hashes of the invalidations. `history` turns them
into at most `MAX_POINTS` points over the last `SPAN_SECONDS`, oldest first. Each point holds
the figures of the minute ending at its second `at_s` (the seconds `at_s - 59 ... at_s`), which
is what /stats' one-minute window said at that time:

- every `STEP_SECONDS` back to four minutes ago, a minute slid over the per-second hashes (each
  hash is parsed once, added once and taken away once);
- before that, one point per whole minute, from the per-minute hashes.

The points start at the first one with any traffic (lookups or invalidations), so the charts of
traffic that just began are not squeezed against the right edge of ten empty minutes; a span in
which nothing happened has no points at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .figures import CacheFigures, InvalidationFigures, RawHash, invalidation_figures
from .layout import SEP

SPAN_SECONDS = 600  # the dashboard's charts show the last ten minutes
STEP_SECONDS = 5
POINT_SECONDS = 60  # each point: the figures of one minute
PER_SECOND_SPAN = 300  # per-second hashes a snapshot reads (the 5m window's)
MINUTES = SPAN_SECONDS // 60 + 1  # per-minute hashes the span needs, the current one included
MAX_POINTS = (PER_SECOND_SPAN - POINT_SECONDS) // STEP_SECONDS + 1 + MINUTES

# A bucket reduced to what the history shows, as additive counts named like the fields of
# `layout`: a cache field without its endpoint (`n|HIT`, `l|c|<bucket>`, `u|c`), the requests
# of each endpoint (`e|<endpoint>`), an invalidations field after `i|` (`i|n|<type>`, `i|k`...).
Tally = Counter[str]


@dataclass
class Buckets:
    """The raw hashes a snapshot read, each list oldest first."""

    now_s: int
    cache_seconds: Sequence[RawHash]  # the last one is the second `now_s`
    cache_minutes: Sequence[RawHash]  # the last one is the minute `now_s // 60`
    invalidation_seconds: Sequence[RawHash] = ()
    invalidation_minutes: Sequence[RawHash] = ()


@dataclass
class HistoryPoint:
    at_s: int  # the minute's last second
    cache: CacheFigures  # every endpoint together
    endpoint_requests: dict[str, int] = field(default_factory=dict)
    invalidations: InvalidationFigures = field(
        default_factory=lambda: InvalidationFigures(POINT_SECONDS)
    )

    @property
    def quiet(self) -> bool:
        return self.cache.requests == 0 and self.invalidations.count == 0


def _cache_keys(name: str) -> tuple[str, ...]:
    """The tally keys a cache-events field adds to: its name without the endpoint, and the
    endpoint's requests (the fields' layout: `layout`)."""
    kind, _, rest = name.partition(SEP)
    if kind == "n":
        outcome, _, endpoint = rest.partition(SEP)
        return f"n{SEP}{outcome}", f"e{SEP}{endpoint}"
    if kind in ("l", "u"):
        return (name.rpartition(SEP)[0],)
    return ()  # response bytes: not charted


def _invalidation_keys(name: str) -> tuple[str, ...]:
    """An invalidations field, renamed so as not to collide with a cache field."""
    return (f"i{SEP}{name}",)


class _Parser:
    """Adds raw hashes to tallies; each distinct field name is parsed once per history."""

    def __init__(self, keys_of: Callable[[str], tuple[str, ...]]) -> None:
        self.keys_of = keys_of
        self.known: dict[bytes, tuple[str, ...]] = {}

    def add(self, raw: RawHash, into: Tally) -> None:
        known, get = self.known, into.get
        for name, value in raw.items():
            keys = known.get(name)
            if keys is None:
                keys = known[name] = self.keys_of(name.decode())
            for key in keys:
                into[key] = get(key, 0) + int(value)


def _tallies(
    last: int, cache: Sequence[RawHash], invalidations: Sequence[RawHash]
) -> dict[int, Tally]:
    """The non-empty buckets by epoch second (or minute), `last` being the newest of both lists."""
    tallies: dict[int, Tally] = {}
    for hashes, keys_of in ((cache, _cache_keys), (invalidations, _invalidation_keys)):
        parser = _Parser(keys_of)
        first = last - len(hashes) + 1
        for offset, raw in enumerate(hashes):
            if raw:
                parser.add(raw, tallies.setdefault(first + offset, Counter()))
    return {when: +counts for when, counts in tallies.items()}  # zero counts dropped


def _point(at_s: int, tally: Tally | None) -> HistoryPoint:
    point = HistoryPoint(at_s, CacheFigures())
    cache = point.cache
    invalidation_fields: dict[bytes, int] = {}
    for key, n in (tally or {}).items():
        kind, _, rest = key.partition(SEP)
        if kind == "n":
            cache.counts[rest] = n
        elif kind == "e":
            point.endpoint_requests[rest] = n
        elif kind == "l":
            served, _, bucket = rest.partition(SEP)
            cache.histograms[served][int(bucket)] = n
        elif kind == "u":
            cache.latency_us[rest] = n
        elif kind == "i":
            invalidation_fields[rest.encode()] = n
    if invalidation_fields:
        point.invalidations = invalidation_figures(invalidation_fields, POINT_SECONDS)
    return point


def rolling_times(now_s: int, seconds: int) -> list[int]:
    """The seconds, `STEP_SECONDS` apart and ending at `now_s`, whose whole minute lies within
    the last `seconds` seconds."""
    earliest = now_s - seconds + POINT_SECONDS
    if earliest > now_s:
        return []
    return list(
        range(now_s - (now_s - earliest) // STEP_SECONDS * STEP_SECONDS, now_s + 1, STEP_SECONDS)
    )


def minute_times(now_s: int, before: int) -> list[int]:
    """The last seconds of the whole minutes within the span that end before `before`."""
    start = now_s - SPAN_SECONDS
    ends = (60 * minute + 59 for minute in range(start // 60, now_s // 60 + 1))
    return [end for end in ends if start < end < before and end <= now_s]


def history(buckets: Buckets) -> list[HistoryPoint]:
    """The points of the span, oldest first, from the first one with traffic on."""
    now_s = buckets.now_s
    seconds = _tallies(now_s, buckets.cache_seconds, buckets.invalidation_seconds)
    minutes = _tallies(now_s // 60, buckets.cache_minutes, buckets.invalidation_minutes)
    span = max(len(buckets.cache_seconds), len(buckets.invalidation_seconds))
    rolling = rolling_times(now_s, span)
    points = [
        _point(at, minutes.get(at // 60))
        for at in minute_times(now_s, rolling[0] if rolling else now_s + 1)
    ]
    window: Tally = Counter()  # the minute ending at `previous`
    previous: int | None = None
    for at in rolling:
        if previous is None:
            entering, leaving = range(at - POINT_SECONDS + 1, at + 1), range(0)
        else:
            entering = range(previous + 1, at + 1)
            leaving = range(previous - POINT_SECONDS + 1, at - POINT_SECONDS + 1)
        for second in entering:
            window.update(seconds.get(second, {}))
        for second in leaving:
            window -= seconds.get(second, Counter())  # what is left stays positive
        points.append(_point(at, window))
        previous = at
    first = next((i for i, point in enumerate(points) if not point.quiet), len(points))
    return points[first:]
