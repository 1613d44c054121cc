"""The figures of a window, merged from the aggregate hashes of its buckets.

`merge_fields` adds up the raw hashes of a window's buckets (field by field), then
`cache_figures` / `invalidation_figures` parse the merged fields once. Rates and percentiles
are computed from the merged counts and histograms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import histogram
from .layout import CACHED, ORIGIN, SEP

RawHash = Mapping[bytes, bytes]


def merge_fields(
    hashes: Iterable[RawHash], into: dict[bytes, int] | None = None
) -> dict[bytes, int]:
    merged = {} if into is None else into
    get = merged.get
    for h in hashes:
        for name, value in h.items():
            merged[name] = get(name, 0) + int(value)
    return merged


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass
class CacheFigures:
    """Cache lookups of one endpoint (or of all of them) over one window."""

    counts: dict[str, int] = field(default_factory=dict)  # outcome -> requests
    bytes: int = 0
    histograms: dict[str, dict[int, int]] = field(
        default_factory=lambda: {CACHED: {}, ORIGIN: {}}
    )  # served from the cache (HIT, STALE) or not (MISS, BYPASS) -> latency histogram
    latency_us: dict[str, int] = field(default_factory=lambda: {CACHED: 0, ORIGIN: 0})

    def add(self, other: CacheFigures) -> None:
        for outcome, n in other.counts.items():
            self.counts[outcome] = self.counts.get(outcome, 0) + n
        self.bytes += other.bytes
        for s in (CACHED, ORIGIN):
            self.histograms[s] = histogram.merge([self.histograms[s], other.histograms[s]])
            self.latency_us[s] += other.latency_us[s]

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    @property
    def hits(self) -> int:
        return self.counts.get("HIT", 0)

    @property
    def misses(self) -> int:
        return self.counts.get("MISS", 0)

    @property
    def bypasses(self) -> int:
        return self.counts.get("BYPASS", 0)

    @property
    def stale(self) -> int:
        return self.counts.get("STALE", 0)

    @property
    def hit_rate(self) -> float:
        """The share of requests answered from the cache: HIT or STALE."""
        return _ratio(self.hits + self.stale, self.requests)

    @property
    def miss_rate(self) -> float:
        return _ratio(self.misses, self.requests)

    @property
    def latency(self) -> dict[int, int]:
        return histogram.merge(self.histograms.values())

    @property
    def cached_latency(self) -> dict[int, int]:
        return self.histograms[CACHED]

    @property
    def mean_ms(self) -> float:
        n = histogram.total(self.latency)
        return sum(self.latency_us.values()) / 1000 / n if n else 0.0

    def latency_ms(self) -> dict[str, float]:
        merged = self.latency
        return {
            "mean": self.mean_ms,
            "p50": histogram.percentile(merged, 50),
            "p95": histogram.percentile(merged, 95),
            "p99": histogram.percentile(merged, 99),
        }


@dataclass
class WindowFigures:
    seconds: int
    overall: CacheFigures
    endpoints: dict[str, CacheFigures]

    def per_second(self, count: int) -> float:
        return count / self.seconds


def cache_figures(fields: Mapping[bytes, int], seconds: int) -> WindowFigures:
    endpoints: dict[str, CacheFigures] = {}

    def of(endpoint: str) -> CacheFigures:
        figures = endpoints.get(endpoint)
        if figures is None:
            figures = endpoints[endpoint] = CacheFigures()
        return figures

    for raw, value in fields.items():
        name = raw.decode()
        kind = name[:1]
        if kind == "n":
            _, outcome, endpoint = name.split(SEP, 2)
            of(endpoint).counts[outcome] = value
        elif kind == "b":
            of(name.split(SEP, 1)[1]).bytes = value
        elif kind == "l":
            _, s, bucket, endpoint = name.split(SEP, 3)
            of(endpoint).histograms[s][int(bucket)] = value
        elif kind == "u":
            _, s, endpoint = name.split(SEP, 2)
            of(endpoint).latency_us[s] = value
    overall = CacheFigures()
    for figures in endpoints.values():
        overall.add(figures)
    return WindowFigures(seconds, overall, endpoints)


@dataclass
class InvalidationFigures:
    seconds: int
    by_type: dict[str, int] = field(default_factory=dict)
    keys: int = 0
    lag: dict[int, int] = field(default_factory=dict)  # lag histogram (ms)
    lag_us: int = 0

    @property
    def count(self) -> int:
        return sum(self.by_type.values())

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def lag_ms(self) -> dict[str, float]:
        return {
            "p50": histogram.percentile(self.lag, 50),
            "p95": histogram.percentile(self.lag, 95),
            "p99": histogram.percentile(self.lag, 99),
        }


def invalidation_figures(fields: Mapping[bytes, int], seconds: int) -> InvalidationFigures:
    figures = InvalidationFigures(seconds)
    for raw, value in fields.items():
        name = raw.decode()
        if name.startswith(f"n{SEP}"):
            figures.by_type[name[2:]] = value
        elif name == "k":
            figures.keys = value
        elif name.startswith(f"l{SEP}"):
            figures.lag[int(name[2:])] = value
        elif name == "u":
            figures.lag_us = value
    return figures
