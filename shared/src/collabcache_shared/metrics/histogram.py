"""Latency (and lag) histograms with fixed, log-spaced bucket boundaries.

Every producer and reader uses the same boundaries, so histograms from any second, minute or
replica merge by adding counts bucket by bucket, and a percentile is read off the merged
counts: never a mean of means, never a percentile of percentiles.

Boundaries are 24 per decade (`10 ** (k / 24)` milliseconds, each ~10% wider than the last)
from 0.046 ms to 10 s, so 1, 10, 100 and 1000 ms are exact boundaries: whether a percentile is
below the 100 ms target is decided exactly, not to within a bucket. Bucket `i` holds values in
`(BOUNDS_MS[i - 1], BOUNDS_MS[i]]` (bucket 0 everything up to `BOUNDS_MS[0]`); `OVERFLOW`
holds what exceeds the last boundary.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping

PER_DECADE = 24
FIRST_EXPONENT = -32  # 10 ** (-32 / 24) ms = 0.0464 ms
LAST_EXPONENT = 96  # 10 ** (96 / 24) ms = 10 s
BOUNDS_MS: tuple[float, ...] = tuple(
    10 ** (k / PER_DECADE) for k in range(FIRST_EXPONENT, LAST_EXPONENT + 1)
)
OVERFLOW = len(BOUNDS_MS)  # the bucket beyond the last boundary
BUCKET_COUNT = OVERFLOW + 1
# How far a bucket's representative value may be from any value in it (interior buckets).
RELATIVE_PRECISION = 10 ** (1 / (2 * PER_DECADE)) - 1  # ~4.9%

Counts = Mapping[int, int]  # bucket index -> count (sparse)


def bucket_of(value_ms: float) -> int:
    """The bucket a value falls in (negative values count as 0)."""
    return bisect_left(BOUNDS_MS, value_ms)


def representative(bucket: int) -> float:
    """The value a bucket stands for: the geometric middle of its boundaries (within
    `RELATIVE_PRECISION` of anything in it); bucket 0 and the overflow give their boundary."""
    if bucket <= 0:
        return BOUNDS_MS[0]
    if bucket >= OVERFLOW:
        return BOUNDS_MS[-1]
    return 10 ** ((FIRST_EXPONENT + bucket - 0.5) / PER_DECADE)


def upper_bound(bucket: int) -> float:
    """The largest value a bucket holds (infinity for the overflow)."""
    return BOUNDS_MS[bucket] if bucket < OVERFLOW else math.inf


def merge(histograms: Iterable[Counts]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def total(histogram: Counts) -> int:
    return sum(histogram.values())


def percentile_bucket(histogram: Counts, percent: float) -> int | None:
    """The bucket holding the nearest-rank percentile (the ceil(p/100 * n)-th smallest
    value), or None when the histogram is empty."""
    n = total(histogram)
    if n == 0:
        return None
    rank = max(1, math.ceil(round(percent * n, 9) / 100))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return max(histogram)  # unreachable: the ranks add up to n


def percentile(histogram: Counts, percent: float) -> float:
    """The nearest-rank percentile in milliseconds, within bucket precision; 0.0 if empty."""
    bucket = percentile_bucket(histogram, percent)
    return 0.0 if bucket is None else representative(bucket)


def share_at_most(histogram: Counts, limit_ms: float) -> float:
    """The fraction of values <= `limit_ms`, exact when `limit_ms` is a boundary."""
    n = total(histogram)
    if n == 0:
        return 0.0
    return sum(c for b, c in histogram.items() if upper_bound(b) <= limit_ms) / n
