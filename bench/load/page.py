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
        "met on 2026-12-03 (p99 21 ms at 200 req/s) once each API worker listens on a socket "
        "of its own (`SO_REUSEPORT`): with one shared socket, the generator's 64 keep-alive "
        "connections all stayed with the worker that accepted first (64 of 64, measured), "
        "which queued the peak while the other idled (p99 30 ms to 0.6 s, run to run)"
    ),
    "hit rate": (
        "after the warm (3,000 most active users and 3,000 studies of 10,000 and 5,000) the "
        "misses are the Zipf tail: requests of users and studies the warm left out, first read "
        "during the 14 s after it, and entries a write dropped that were not hot enough for "
        "refresh-ahead; the study pages miss most (86-89%). Warming every user and study took "
        "93 s on this machine (58,921 entries), over the warm's 60 s budget; the quick "
        "profile's 14 s after warming is too short for the tail to fill by reads"
    ),
    "stale reads": (
        "each stale read is listed in the results file (`stale_examples`: path, X-Cache, time "
        "since the last write ended) to be traced. The one this bench found (a same-role "
        "PATCH recorded an activity entry without the event that invalidates the feed) is "
        "fixed and has a regression test"
    ),
    "database reads": (
        "follows the hit rate: a miss costs 2-3 queries and a write 6-8, and refresh-ahead's "
        "loads after writes (background reads, counted) add about 0.05 per request"
    ),
    "analytics cached": (
        "the cached side (~1 ms at p50, client included) is the hit path; the uncached side is "
        "one aggregate query over a seeded organization (tens of members), ~17-20 ms. This run "
        "measured 14.3x where the run of 2026-12-03T00:39 measured 19.8x (0.93 vs 18.4 ms); in "
        "this run the bare Redis-GET app also cost 316 µs of CPU per request against 177 µs "
        "then, i.e. the machine was slower throughout, which the small cached side feels most"
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
    "warming": (
        "the warm process's own work took 57.6 s of its 62.4 s (the rest: the process's start "
        "and its plan); it runs fills four at a time in one Python process, CPU-bound (about "
        "1.4 ms of CPU per entry); the API's p99 meanwhile stayed under 100 ms (90 ms). "
        "A smaller hot set meets the time at the cost of the hit rate after it"
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
        "- Mix: users ranked by their activity (the most active first) and drawn by a Zipf law "
        "(weight 1/rank); organization dashboard (my "
        "organizations, members, teams, analytics) and study page (collaborators, comments, "
        "activity, permissions); 3% writes: comments, membership and collaborator role "
        "changes, by owners, so every write is allowed.",
        f"- Phases per variant, from a cold cache: {phases}. The first phase's hit rate per "
        "second is the warming curve; 'after warming' means the other phases. For collabcache and "
        "TTL-only the warm command runs during the first phase (which then lasts until it is "
        "done): README, 'Cache warming'.",
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
        "SQLAlchemy's `before_cursor_execute` for statements run on behalf of a request, "
        "including what its tasks read after the response (refresh-ahead, stale refreshes).",
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
