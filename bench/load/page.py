"""The prose of docs/benchmarks.md: how the load is made and what limits a missed target."""

from __future__ import annotations

from typing import Any

# What limits each target when it is missed, keyed by the start of the target's name: read off
# the runs and profiles of 2026-12-01 (py-spy on the API under wrk, `python -m bench.ceiling
# --py-spy DIR`; the memory model of `bench.memory`). A later run that misses a target for
# another reason needs a profile of its own.
LIMITS = {
    "cached GET p99": (
        "a hit costs the API ~0.2 ms of CPU (bench.request_cpu, bench.ceiling), but at 200 req/s "
        "it shares the two event loops with the misses (40% of the quick mix: ~2 ms of CPU each, "
        "PostgreSQL beside) and the writes, so its p99 is the wait behind them: on a quiet "
        "machine with 2 API workers the peak is carried (200 of 200 req/s, p99 of all requests "
        "30 ms, of hits 29 ms on 2026-12-03); with 1 worker, or another job on the machine, the "
        "peak queues (p99 0.5-0.6 s). A higher hit rate is the lever"
    ),
    "every phase": (
        "collabcache pays for its freshness where TTL-only does not: each write fences the "
        "entries it changes, commits and clears them (dropping them: the next reads miss, and "
        "readers of a fenced entry load without filling), the relay publishes its events and "
        "the invalidator deletes again. One experiment at the peak (2 workers, another job on "
        "the machine, one run each): collabcache p99 748 ms, without the relay 207 ms, without "
        "the inline fences 78 ms, TTL-only 49 ms; the fences cost the most, as readers of a "
        "hot entry under a fence each go to PostgreSQL"
    ),
    "peak": (
        "the peak is served (199.9-200 of 200 req/s) but its p99 varies from run to run, 30 ms "
        "to 0.6 s, for TTL-only as much as for collabcache (this run: 414 vs 431 ms). The "
        "machine is not saturated on average (about 1.2 of 2 cores busy, see 'What limits each "
        "phase'): the waits come in bursts. Likely cause, not yet proven: each of the "
        "generator's 64 keep-alive connections stays with the API worker that accepted it, so "
        "a worker busy with a run of misses queues its connections' requests while the other "
        "has room; with 1 worker the peak queues every time (p99 0.6 s)"
    ),
    "hit rate": (
        "the quick profile gives each variant 20 s of load on 10,000 Zipf-drawn users and "
        "5,000 studies: most keys are read for the first time during the run (the warming "
        "curve is still climbing when it ends), and every write deletes what it changed, so "
        "the next read is a miss by design. The full profile's 15 minutes before the peak is "
        "what can show the steady-state rate (`make bench-full`, ~3.5 h; not run here)"
    ),
    "stale reads": (
        "each stale read is listed in the results file (`stale_examples`: path, X-Cache, time "
        "since the last write ended) to be traced. The one this bench found (a same-role "
        "PATCH recorded an activity entry without the event that invalidates the feed) is "
        "fixed and has a regression test"
    ),
    "database reads": (
        "bounded by the hit rate: at ~61% hits a request still averages 1.2 queries (a miss "
        "costs 2-3, a write several), so this follows the hit rate above"
    ),
    "analytics cached": (
        "the cached side (~3 ms at p50, client included) is the FastAPI stack around a hit, "
        "the same for every endpoint; the uncached side is one aggregate query over a seeded "
        "organization (tens of members), ~20 ms. Larger organizations widen the gap; the "
        "ratio is bounded by the per-request cost of a hit (see the throughput ratio)"
    ),
    "cache-event emission": (
        "noise at this scale: the figure compares p50s of a few milliseconds summed over eight "
        "endpoints (events on against off), and two runs of the part alone right after this "
        "run measured -6.7% and -4.2% (2026-12-03); events are recorded in memory and sent in "
        "the background, one script call per thousand"
    ),
    "cached endpoint throughput": (
        "the hit path answers in front of FastAPI's whole stack; what is left of a hit's CPU "
        "beyond the bare app's (py-spy under wrk, 2026-12-03): redis-py's call of the one LOOKUP "
        "script (retry wrapper, timeout, packing and parsing: ~17% of the samples), the cache "
        "event (~5%), the token memo and standing check; the bare app pays FastAPI's routing "
        "and one GET instead"
    ),
    "server CPU per hit": (
        "as for the throughput above: the hit path does more than the bare app (the caller, "
        "their standing and the page in one script call, a cache event, the security and CORS "
        "headers) and skips FastAPI, which is about what the extra work costs"
    ),
    "Redis memory": (
        "the permission records: one per user per organization, team and study they have "
        "read (244-328 bytes each, measured), and in the worst case every user reads every "
        "study of their organizations. The 10,000-user run of `bench.memory --profile full` "
        "(bench/results/memory-20261201T200310.json) models 17.4 GB in that worst case, 3.9 GB "
        "with standings only on what each user can see, and 822 MB without permission records. "
        "Levers: a compact standing instead of the "
        "full permissions JSON, caching fewer pages of comments and activity, and Redis's "
        "maxmemory with volatile-lru (deploy/compose.yaml), which evicts cache entries only"
    ),
    "invalidation lag": (
        "commit -> outbox trigger -> relay (LISTEN/NOTIFY) -> stream -> invalidator -> DEL: "
        "four processes on 2 shared cores; under other load the relay's wake-up dominates"
    ),
    "invalidator throughput": (
        "one consumer in Python: per-event validation (~24% of its CPU), redis-py command "
        "packing (~17%) and key computation (~14%)"
    ),
}


def limits_section(result: dict[str, Any]) -> list[str]:
    missed = [t for t in result.get("targets", []) if t["met"] is False]
    if not missed:
        return []
    lines = [
        "## Where a target is not met",
        "",
        "What limits each, read off the runs and py-spy profiles of 2026-12-01 on this 2-core "
        "machine (the profiles: `python -m bench.ceiling --py-spy DIR`).",
        "",
    ]
    for t in missed:
        why = next((v for k, v in LIMITS.items() if t["name"].startswith(k)), None)
        because = f"limit: {why}" if why else "no analysis yet"
        lines.append(f"- **{t['name']}** ({t['measured']}; goal {t['target']}): {because}.")
    lines.append("")
    return lines


def method_section(load: dict[str, Any] | None) -> list[str]:
    if not load:
        return []
    d = load["dataset"]
    phases = ", ".join(f"{p['name']} {p['rate_per_s']:g} req/s x {p['seconds']:g} s"
                       for p in load["phases"])  # fmt: skip
    return [
        "## How the load is made",
        "",
        f"- Dataset: {d['organizations']} organizations, {d['users']} users, {d['teams']} "
        f"teams, {d['studies']} studies, {d['comments']} comments (seeded by COPY in "
        f"{d['seed_seconds']} s), one database for all variants.",
        "- Generator: a small asyncio open-loop generator (`bench/load/generator.py`), not "
        "Locust: Locust's users are closed loops timed from the actual send, so a slow server "
        "slows the client and the requests it should have sent are never timed (coordinated "
        "omission). Here request *i* is due at start + i/rate and its latency runs from that "
        "scheduled time; requests share a fixed pool of 64 keep-alive connections (as wrk2 "
        "does), so waiting for a free connection counts too.",
        "- Mix: users drawn by a Zipf law (weight 1/rank); organization dashboard (my "
        "organizations, members, teams, analytics) and study page (collaborators, comments, "
        "activity, permissions); 3% writes: comments, membership and collaborator role "
        "changes, by owners, so every write is allowed.",
        f"- Phases per variant, from a cold cache: {phases}. The first phase's hit rate per "
        "second is the warming curve; 'after warming' means the other phases.",
        f"- Every variant's API runs {load.get('api_workers', 1)} uvicorn worker process(es) "
        "(`API_WORKERS`).",
        "- Variants, one after another, each on its own private `redis-server`: **collabcache** "
        "as built (inline invalidation, the invalidator consuming, cache events on); "
        "**cache-off** (`CACHE_ENABLED=false`); **ttl-only** (the same cache, "
        "`CACHE_INVALIDATE_INLINE=false`, no invalidator); **fastapi-cache2** "
        "(`bench/apps/fastapi_cache2_app.py`: our cache off, the same GET routes under "
        "`@cache(expire=<our TTL>)` keyed per path + query + caller; it invalidates nothing: "
        "entries live their TTL, including a removed collaborator's access). Only collabcache "
        "runs the outbox relay (nobody else consumes its events).",
        "- Database queries are counted, not estimated: `bench/apps/counting_api.py` counts "
        "SQLAlchemy's `before_cursor_execute` for statements run on behalf of a request.",
        f"- Stale reads: {load['oracle_share']:.0%} of the GETs are read again right after "
        "their response from a cache-off API on the same database (the oracle); a differing "
        "body (`generated_at` aside) is stale unless one of the bench's writes was in flight "
        "between the read's send "
        "and the oracle's answer, or, for analytics, a write ended less than the declared "
        f"bound ({load['analytics_stale_bound_s']} s) before.",
        "- Hit rate: `X-Cache: HIT|STALE` (ours), `X-FastAPI-Cache: HIT` (fastapi-cache2). "
        "Redis memory: `INFO memory` used_memory of the variant's server after its run.",
        "- All processes share the machine's cores: figures taken while other work runs are noisy.",
        "",
    ]
