"""The benchmark targets (README, "Benchmarks"), each {"name", "target", "measured", "met"}: met
is None when the part that measures it did not run. Printed and rendered, never asserted."""

from __future__ import annotations

from typing import Any

ANALYTICS = "GET /api/organizations/{id}/analytics"
Target = dict[str, Any]


def _target(name: str, target: str, measured: str | None, met: bool | None) -> Target:
    return {"name": name, "target": target, "measured": measured or "not measured", "met": met}


def _peak(variant: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The phase at the highest rate (peak: 200 req/s outside smoke)."""
    name, phase = max(variant["phases"].items(), key=lambda item: item[1]["rate_per_s"])
    return name, phase


def load_targets(load: dict[str, Any] | None) -> list[Target]:
    if not load:
        return [
            _target(n, t, None, None)
            for n, t in (
                ("cached GET p99 at 200 req/s", "<= 5 ms"),
                ("hit rate on the mix (after warming)", ">= 95%, every endpoint >= 90%"),
                ("database reads per request vs cache-off", "<= 10%"),
                ("stale reads (collabcache)", "0"),
            )
        ]
    ours, off = load["variants"]["collabcache"], load["variants"]["cache-off"]
    name, peak = _peak(ours)
    p99 = peak["overall"]["hit_p99_ms"]
    ours_reads, off_reads = ours["reads_per_request"], off["reads_per_request"]
    share = ours_reads / off_reads if off_reads else None
    stale = ours["stale_reads"]
    return [
        _target(
            f"cached GET p99 at {peak['rate_per_s']:g} req/s ({name})",
            "<= 5 ms",
            f"{p99} ms (all requests: {peak['overall']['p99_ms']} ms)",
            p99 is not None and p99 <= 5,
        ),
        _hit_rates(ours),
        _target(
            "database reads per request vs cache-off",
            "<= 10%",
            f"{share:.1%} ({ours_reads} vs {off_reads})" if share is not None else None,
            share is not None and share <= 0.10,
        ),
        _target(
            "stale reads (collabcache)",
            "0",
            f"{stale['stale']} of {stale['checked']} checked",
            stale["stale"] == 0,
        ),
    ]


def _hit_rates(ours: dict[str, Any]) -> Target:
    """After warming: overall >= 95%, and no endpoint under 90% (the lowest is named)."""
    hit = ours["overall"]["hit_rate"]
    rates = {ep: f["hit_rate"] for ep, f in ours["endpoints"].items() if f["hit_rate"] is not None}
    lowest = min(rates.items(), key=lambda item: item[1]) if rates else None
    measured = None
    if hit is not None:
        measured = f"{hit:.1%}" + (f"; lowest {lowest[1]:.1%} ({lowest[0]})" if lowest else "")
    met = hit is not None and hit >= 0.95 and lowest is not None and lowest[1] >= 0.90
    return _target("hit rate on the mix (after warming)", ">= 95%, every endpoint >= 90%",
                   measured, met)  # fmt: skip


def peak_targets(load: dict[str, Any] | None) -> list[Target]:
    """The peak carried (README, "Benchmarks"): what was offered served, the latency
    bound on every request, and no read past a Redis that was not usable."""
    names = ("peak: offered requests served", "peak: p99 of all requests", "peak: BYPASS")
    goals = (">= 99%", "<= 100 ms", "< 0.1%")
    if not load:
        return [_target(n, g, None, None) for n, g in zip(names, goals, strict=True)]
    name, peak = _peak(load["variants"]["collabcache"])
    o, rate = peak["overall"], peak["rate_per_s"]
    served = o["throughput_per_s"] / rate if rate else 0.0
    bypass = o.get("bypass_share")
    return [
        _target(f"{name}: offered requests served", goals[0],
                f"{served:.1%} ({o['throughput_per_s']} of {rate:g} req/s)", served >= 0.99),
        _target(f"{name}: p99 of all requests", goals[1], f"{o['p99_ms']} ms",
                o["p99_ms"] is not None and o["p99_ms"] <= 100),
        _target(f"{name}: BYPASS", goals[2],
                f"{bypass:.2%}" if bypass is not None else None,
                bypass is not None and bypass < 0.001),
    ]  # fmt: skip


def warm_targets(load: dict[str, Any] | None) -> list[Target]:
    """The warm command during the first phase (README, "Cache warming"): the hot set filled
    within a minute, without the API's p99 over 100 ms meanwhile."""
    name = "warming: hot set filled, API p99 meanwhile"
    goal = "<= 60 s, p99 <= 100 ms"
    first = next(iter(load["variants"]["collabcache"]["phases"].values()), None) if load else None
    warm = first["overall"].get("warm") if first else None
    if not first or not warm:
        return [_target(name, goal, None, None)]
    report, p99 = warm["report"], warm["during"]["p99_ms"]
    filled = report.get("filled", report.get("error", "?"))
    rate = first["rate_per_s"]
    measured = f"{warm['seconds']} s ({filled} entries filled), p99 {p99} ms at {rate:g} req/s"
    met = "error" not in report and warm["seconds"] <= 60 and p99 is not None and p99 <= 100
    return [_target(name, goal, measured, met)]


def versus_ttl_only(load: dict[str, Any] | None) -> list[Target]:
    """Every phase: collabcache serves at least what TTL-only serves, with a lower p99 (the
    invalidation machinery must not cost what the freshness is worth)."""
    name = "every phase: collabcache serves >= TTL-only, lower p99"
    if not load or "ttl-only" not in load["variants"]:
        return [_target(name, "all phases", None, None)]
    ours, ttl = load["variants"]["collabcache"]["phases"], load["variants"]["ttl-only"]["phases"]
    behind = []
    for phase, p in ours.items():
        o, t = p["overall"], ttl[phase]["overall"]
        slower = (o["p99_ms"] or 0) >= (t["p99_ms"] or 0)
        if o["throughput_per_s"] < t["throughput_per_s"] or slower:
            behind.append(
                f"{phase} {o['throughput_per_s']} vs {t['throughput_per_s']} req/s, "
                f"p99 {o['p99_ms']} vs {t['p99_ms']} ms"
            )
    measured = "; ".join(behind) if behind else f"all {len(ours)} phases"
    return [_target(name, "all phases", measured, not behind)]


def latency_targets(result: dict[str, Any] | None) -> list[Target]:
    if not result:
        return [
            _target("analytics cached vs uncached (p50)", ">= 20x faster", None, None),
            _target("cache-event emission cost on a hit (p50)", "< 3%", None, None),
        ]
    rows = result["rows"]
    analytics = next(r for r in rows if r["endpoint"] == ANALYTICS)
    # wrk's p50s where wrk ran: the Python client's own time is most of a hit's (cache_latency)
    client = "wrk" if "cached_wrk_p50_ms" in analytics else "httpx"
    cached, uncached = (
        (analytics["cached_wrk_p50_ms"], analytics["uncached_wrk_p50_ms"])
        if client == "wrk"
        else (analytics["cached_p50_ms"], analytics["uncached_p50_ms"])
    )
    speedup = uncached / cached
    loud = sum(r["cached_p50_ms"] for r in rows)
    quiet = sum(r["cached_quiet_p50_ms"] for r in rows)
    cost = (loud - quiet) / quiet
    return [
        _target(
            "analytics cached vs uncached (p50)",
            ">= 20x faster",
            f"{speedup:.1f}x ({cached} vs {uncached} ms, {client})",
            speedup >= 20,
        ),
        _target(
            "cache-event emission cost on a hit (p50, summed over endpoints)",
            "< 3%",
            f"{cost:+.1%} ({loud:.2f} vs {quiet:.2f} ms)",
            cost < 0.03,
        ),
    ]


def lag_targets(result: dict[str, Any] | None) -> list[Target]:
    if not result:
        return [
            _target("invalidation lag p99 at 100 writes/s", "<= 20 ms", None, None),
            _target("invalidator throughput, one replica", ">= 10,000 events/s", None, None),
        ]
    steady, burst = result["steady"], result["burst"]
    p99 = steady["p99_ms"]
    lag = f"p50 {steady['p50_ms']} ms, p99 {p99} ms" if p99 is not None else "no deletion seen"
    went = f"{steady['never_went']} of {steady['writes']} entries never went"
    return [
        _target(
            f"invalidation lag p99 at {steady['target_rate_per_s']:g} writes/s",
            "<= 20 ms",
            f"{lag} ({steady['achieved_rate_per_s']} writes/s; {went})",
            p99 is not None and p99 <= 20 and steady["never_went"] == 0,
        ),
        _target(
            "invalidator throughput, one replica",
            ">= 10,000 events/s",
            f"{burst['events_per_s']} events/s ({burst['events']} events)",
            burst["events_per_s"] >= 10_000,
        ),
    ]


def _alone(ceiling: dict[str, Any] | None) -> str:
    """The same generator at the peak's rate against each app alone (bench.open_loop_alone)."""
    alone = (ceiling or {}).get("open_loop_alone")
    if not alone:
        return ""
    hit, bare = alone["cached"], alone["bare"]
    return (
        f"; alone at {alone['rate_per_s']:g} req/s: hit p99 {hit['p99_ms']} ms, "
        f"bare Redis-GET app p99 {bare['p99_ms']} ms ({hit['not_200'] + bare['not_200']} not 200)"
    )


def collect(result: dict[str, Any]) -> list[Target]:
    targets = load_targets(result.get("load"))
    if result.get("load"):
        targets[0]["measured"] += _alone(result.get("ceiling"))
    targets += peak_targets(result.get("load"))
    targets += warm_targets(result.get("load"))
    targets += versus_ttl_only(result.get("load"))
    targets += latency_targets(result.get("cache_latency"))
    targets += lag_targets(result.get("invalidation_lag"))
    focused = (
        ("ceiling", "cached endpoint throughput"),
        # Judged on the measured figure; the model (`memory`) is printed beside it.
        ("memory_100k", "Redis used_memory, 100,000-user dataset after the replay"),
        ("history", "stale reads under faults (history check)"),
    )
    for name, label in focused:
        part = result.get(name)
        if part and part.get("targets"):
            targets += part["targets"]
        else:
            targets.append(_target(label, "see bench/" + name + ".py", None, None))
    return targets
