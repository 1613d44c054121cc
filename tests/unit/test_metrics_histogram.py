"""Percentiles read off merged log-spaced histogram buckets agree with the exact nearest-rank
percentiles of the raw values, to within one bucket (~10%), and merging is exact."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from collabcache_shared.metrics import histogram
from collabcache_shared.metrics.histogram import (
    BOUNDS_MS,
    OVERFLOW,
    RELATIVE_PRECISION,
    bucket_of,
    merge,
    percentile,
    percentile_bucket,
    representative,
    share_at_most,
)

PERCENTS = (50, 90, 95, 99, 99.9)


def exact_percentile(values: list[float], percent: float) -> float:
    """Nearest rank: the ceil(p/100 * n)-th smallest value, computed without the histogram."""
    ordered = sorted(values)
    rank = max(1, math.ceil(percent * len(ordered) / 100 - 1e-9))
    return ordered[rank - 1]


def histogram_of(values: list[float]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for v in values:
        counts[bucket_of(v)] = counts.get(bucket_of(v), 0) + 1
    return counts


def samples(kind: str, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    if kind == "lognormal":  # cache hits around 2 ms with a long tail
        return [rng.lognormvariate(math.log(2.0), 1.2) for _ in range(n)]
    if kind == "bimodal":  # hits near 1 ms, misses near 40 ms
        return [rng.gauss(1.0, 0.2) if rng.random() < 0.85 else rng.gauss(40, 8) for _ in range(n)]
    if kind == "uniform":
        return [rng.uniform(0.1, 300.0) for _ in range(n)]
    raise ValueError(kind)


def test_boundaries_are_log_spaced_about_ten_percent_apart_from_005_ms_to_10_s() -> None:
    assert BOUNDS_MS[0] <= 0.05 and BOUNDS_MS[-1] == 10_000.0
    ratios = [b / a for a, b in itertools.pairwise(BOUNDS_MS)]
    assert all(1.09 < r < 1.11 for r in ratios)
    for exact in (1.0, 10.0, 100.0, 1000.0):  # targets decided exactly
        assert exact in BOUNDS_MS


def test_a_boundary_value_belongs_to_the_bucket_it_closes() -> None:
    i = BOUNDS_MS.index(100.0)
    assert bucket_of(100.0) == i
    assert bucket_of(math.nextafter(100.0, math.inf)) == i + 1
    assert bucket_of(0.0) == 0 and bucket_of(-1.0) == 0
    assert bucket_of(10_000.0) == OVERFLOW - 1
    assert bucket_of(10_000.1) == OVERFLOW


@pytest.mark.parametrize("kind", ["lognormal", "bimodal", "uniform"])
@pytest.mark.parametrize("n", [1, 7, 20, 1000, 20_000])
def test_percentiles_from_buckets_match_the_exact_ones_within_a_bucket(kind: str, n: int) -> None:
    values = [max(0.06, v) for v in samples(kind, n, seed=n)]
    counts = histogram_of(values)

    for p in PERCENTS:
        exact = exact_percentile(values, p)
        assert percentile_bucket(counts, p) == bucket_of(exact), (kind, n, p)
        assert abs(percentile(counts, p) - exact) <= exact * RELATIVE_PRECISION * 1.0001


def test_the_rank_is_computed_exactly_not_through_floats() -> None:
    # 20 values in 20 distinct buckets: p95 is the 19th (0.95 * 20 = 19 exactly), not the 20th.
    values = [BOUNDS_MS[10 + 4 * i] for i in range(20)]
    counts = histogram_of(values)

    assert representative(percentile_bucket(counts, 95) or 0) == representative(
        bucket_of(values[18])
    )
    assert percentile_bucket(counts, 50) == bucket_of(values[9])
    assert percentile_bucket(counts, 100) == bucket_of(values[19])


def test_merged_histograms_give_the_percentiles_of_the_whole_not_a_mean_of_means() -> None:
    fast = samples("lognormal", 9000, seed=1)  # most requests: hits
    slow = [v * 30 for v in samples("lognormal", 1000, seed=2)]  # a few slow misses
    parts = [histogram_of(fast[:3000]), histogram_of(fast[3000:] + slow), histogram_of([])]
    whole = fast + slow

    merged = merge(parts)

    assert merged == histogram_of(whole)
    for p in PERCENTS:
        assert percentile_bucket(merged, p) == bucket_of(exact_percentile(whole, p))
    mean_of_p99s = (percentile(parts[0], 99) + percentile(parts[1], 99)) / 2
    assert abs(mean_of_p99s - exact_percentile(whole, 99)) > exact_percentile(whole, 99) * 0.2


def test_empty_histograms_give_zero_and_extremes_give_the_outer_boundaries() -> None:
    assert percentile({}, 95) == 0.0
    assert percentile_bucket({}, 95) is None
    assert share_at_most({}, 100.0) == 0.0
    assert percentile(histogram_of([0.001]), 50) == BOUNDS_MS[0]
    assert percentile(histogram_of([60_000.0]), 50) == BOUNDS_MS[-1]


def test_the_share_under_a_boundary_target_is_exact() -> None:
    values = [99.99] * 95 + [100.0] * 2 + [100.01] * 3  # 97 at or under 100 ms

    counts = histogram_of(values)

    assert share_at_most(counts, 100.0) == pytest.approx(0.97)
    assert percentile(counts, 95) < 100.0 < percentile(counts, 98)
    assert histogram.total(counts) == 100
