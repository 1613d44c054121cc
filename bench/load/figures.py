"""From samples to figures: percentiles, throughput, errors, hit rate, queries per request,
stale reads and the warming curve."""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

from bench.load.generator import Sample
from bench.load.workload import ANALYTICS
from bench.support import percentile

# Served from the cache: collabcache's HIT and STALE (bounded, analytics), fastapi-cache2's HIT.
SERVED_FROM_CACHE = frozenset({"HIT", "STALE"})
STALE_EXAMPLES = 5  # stale reads kept in the results, to investigate
LONGEST_WRITE_S = 15.0  # no write takes longer (generator timeout 10 s): bounds the search


def _ms(value: float) -> float:
    return round(value, 2)


def latency(samples: Sequence[Sample]) -> dict[str, float | None]:
    values = [s.latency_ms for s in samples]
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": _ms(percentile(values, 50)),
        "p95_ms": _ms(percentile(values, 95)),
        "p99_ms": _ms(percentile(values, 99)),
        "max_ms": _ms(max(values)),
    }


def hit_rate(samples: Iterable[Sample]) -> float | None:
    gets = [s for s in samples if not s.writes and s.status == 200]
    if not gets or all(s.cache in (None, "BYPASS") for s in gets):
        return None  # no cache answered (the cache-off variant)
    return round(sum(s.cache in SERVED_FROM_CACHE for s in gets) / len(gets), 4)


def bypass_share(samples: Iterable[Sample]) -> float | None:
    """GETs answered past a Redis that was not usable (the breaker open, or a call failed)."""
    gets = [s for s in samples if not s.writes and s.status == 200]
    if not gets or all(s.cache in (None, "BYPASS") for s in gets):
        return None  # no cache answered (the cache-off variant)
    return round(sum(s.cache == "BYPASS" for s in gets) / len(gets), 4)


def mean_of(values: Iterable[int | None]) -> float | None:
    """The mean of the values known (a request without an answer has no count)."""
    known = [v for v in values if v is not None]
    return round(statistics.fmean(known), 3) if known else None


def reads_per_request(samples: list[Sample]) -> float | None:
    """Database reads per answered request, the background reads (what requests' tasks read
    after their responses: refresh-ahead, refreshes of stale entries) included: each API
    process's growth of its running total over these samples."""
    known = [s.reads for s in samples if s.reads is not None]
    if not known:
        return None
    return round((sum(known) + background_reads(samples)) / len(known), 3)


def background_reads(samples: list[Sample]) -> int:
    """The background part of `reads_per_request`, on its own."""
    totals: dict[int, list[int]] = {}
    for s in samples:
        if s.worker is not None and s.background_reads is not None:
            totals.setdefault(s.worker, []).append(s.background_reads)
    return sum(max(seen) - min(seen) for seen in totals.values())


def outcomes(samples: Iterable[Sample]) -> dict[str, int]:
    """How the GETs answered were served (X-Cache: HIT, MISS, BYPASS, STALE; `none`: no header)."""
    counted: dict[str, int] = {}
    for s in samples:
        if not s.writes and s.status == 200:
            counted[s.cache or "none"] = counted.get(s.cache or "none", 0) + 1
    return dict(sorted(counted.items()))


def group(samples: Sequence[Sample]) -> dict[str, Any]:
    ok = [s for s in samples if 200 <= s.status < 400]
    hits = [s for s in samples if not s.writes and s.cache in SERVED_FROM_CACHE]
    span = (max(s.done for s in samples) - min(s.sent for s in samples)) if samples else 0
    return {
        "requests": len(samples),
        **latency(samples),
        "hit_p99_ms": latency(hits)["p99_ms"],
        "throughput_per_s": round(len(ok) / span, 1) if span else 0.0,
        "errors": sum(s.status == 0 or s.status >= 500 for s in samples),
        "client_errors": sum(400 <= s.status < 500 for s in samples),
        "hit_rate": hit_rate(samples),
        "bypass_share": bypass_share(samples),
        "outcomes": outcomes(samples),
        "queries_per_request": mean_of(s.queries for s in samples),
    }


def per_endpoint(samples: Sequence[Sample]) -> dict[str, dict[str, Any]]:
    endpoints: dict[str, list[Sample]] = {}
    for s in samples:
        endpoints.setdefault(s.endpoint, []).append(s)
    return {name: group(items) for name, items in sorted(endpoints.items())}


def warming_curve(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Hit rate and the slowest request per second of scheduled time, from the phase start
    (where in the phase its tail latency is)."""
    seconds: dict[int, list[Sample]] = {}
    for s in samples:
        seconds.setdefault(int(s.offset_s), []).append(s)
    return [
        {
            "second": second,
            "requests": len(items),
            "hit_rate": hit_rate(items),
            "slowest_ms": round(max(s.latency_ms for s in items), 2),
        }
        for second, items in sorted(seconds.items())
    ]


def _write_span(s: Sample) -> tuple[float, float]:
    # A write the client gave up on (no response) may still commit later on the server: its
    # end is unknown, so it counts as in flight until the end of the run.
    return (s.sent, s.done if s.status else math.inf)


def stale_reads(
    samples: Sequence[Sample],
    analytics_bound_s: float,
    writes_of: Sequence[Sample] | None = None,
) -> dict[str, Any]:
    """Sampled reads whose body differs from the cache-off oracle's, less those a write of the
    bench was in flight for (between the read's send and the oracle's answer) and, for
    analytics, those within the declared bound (a write ended less than the bound before).
    `writes_of`: the samples whose writes count (the whole run's, so that a write of an earlier
    phase still running is seen); `samples` by default."""
    writes = sorted(
        _write_span(s) for s in (samples if writes_of is None else writes_of) if s.writes
    )
    starts = [w[0] for w in writes]
    ends = sorted(w[1] for w in writes)
    checked = [s for s in samples if s.oracle is not None]
    outcome = {"checked": len(checked), "differs": 0, "during_writes": 0, "within_bound": 0}
    stale: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for s in checked:
        if s.oracle != "differs":
            continue
        outcome["differs"] += 1
        until = s.oracle_done or s.done
        first = bisect_left(starts, s.sent - LONGEST_WRITE_S)
        last = bisect_right(starts, until)
        if any(end > s.sent for _, end in writes[first:last]):
            outcome["during_writes"] += 1
            continue
        recent = bisect_right(ends, s.sent) - bisect_left(ends, s.sent - analytics_bound_s)
        if s.endpoint == ANALYTICS and recent > 0:
            outcome["within_bound"] += 1
            continue
        stale[s.endpoint] = stale.get(s.endpoint, 0) + 1
        if len(examples) < STALE_EXAMPLES:
            last_write = (
                ends[bisect_right(ends, s.sent) - 1] if ends and ends[0] <= s.sent else None
            )
            examples.append(
                {
                    "path": s.path,
                    "cache": s.cache,
                    "age_s": s.age_s,
                    "latency_ms": _ms(s.latency_ms),
                    "last_write_ended_s_before": _ms(s.sent - last_write) if last_write else None,
                }
            )
    return {
        **outcome,
        "stale": sum(stale.values()),
        "stale_by_endpoint": stale,
        "stale_examples": examples,
    }
