"""The prose of docs/benchmarks.md: how the load is made and what limits a missed target."""

from __future__ import annotations

from typing import Any

# What limits each target when it is missed, keyed by the start of the target's name: read off
# the runs and profiles of 2026-12-01 to 2026-12-03 (py-spy on the API under wrk, `python -m
# bench.ceiling --py-spy DIR`; the memory model of `bench.memory`). A later run that misses a
# target for another reason needs a profile of its own.
LIMITS = {
    "cached GET p99": (
        "the hit path itself meets it: alone at 200 req/s, timed by the same open-loop "
        "generator, a hit's p99 was 3.23 and 3.52 ms, the bare Redis-GET app's 3.45 and "
        "4.88 ms (`open_loop_alone`, bench.ceiling, runs of 14:26Z and 15:01Z). In the peak phase "
        "it is the "
        "machine's: two API workers, PostgreSQL, Redis, the relay, the invalidator, the load "
        "generator and the oracle share two cores, and a hit waits for a core or behind a "
        "write, a miss or a refresh in its event loop (TTL-only, the same hit path without the "
        "invalidation work, measured 6.1-8.4 ms at peak in the five runs of 2026-12-03, "
        "collabcache 8.7-25.7 ms). "
        "Not met on this machine"
    ),
    "every phase": (
        "after the warm both variants hit 98-100%, so what is left is what collabcache does "
        "for freshness and TTL-only does not: each write fences the entries it changes, "
        "commits and clears them (the next reads miss, or refresh-ahead reloads them in the "
        "background), the relay publishes its events and the invalidator deletes again; "
        "analytics served stale are refreshed in the background. At peak that was 2.2-5.1x "
        "TTL-only's PostgreSQL CPU and 0.9-1.5x its API CPU (the phases' CPU tables). In the "
        "runs of 2026-12-03 collabcache's p99 was higher than TTL-only's in the normal, peak "
        "and sustained phases but once (11:04Z's peak, 14.60 vs 14.61 ms); at 14:26Z, with "
        "10-s phases, 13.8 vs 12.1 ms (normal), 34.3 vs 14.2 ms (peak) and 19.0 vs 13.4 ms "
        "(sustained); at 15:01Z, with the API served as production serves it (a listening "
        "socket per worker), sustained was lower (12.0 vs 12.6 ms) and the others higher "
        "(warming 63.9 vs 39.0, normal 13.4 vs 10.6, peak 22.8 vs 12.1 ms); turning refresh-ahead "
        "off made collabcache's peak worse, not better "
        "(hit p99 31.7 against 18.6 ms, one experiment each). The warming phase's p99 is set "
        "by its first seconds, when the cache is empty in both"
    ),
    "peak": (
        "met in every run of 2026-12-03 from 06:28Z on (p99 of all requests 14-53 ms at 200 "
        "req/s); runs before then queued the peak for up to 0.6 s. Until 15:01Z the bench ran "
        "the API under `uvicorn --workers` (one shared socket), not the product's server (a "
        "socket per worker, `SO_REUSEPORT`), so what changed the peak then was not the socket"
    ),
    "hit rate": (
        "met on 2026-12-03 once the warm fills the whole bench dataset (every user and study "
        "the Zipf mix draws, 81,618 entries): 98.6-99.0% after warming in five runs, every "
        "endpoint 95-100%; the misses left are entries a write dropped that refresh-ahead did "
        "not reload and the few standings past an entry's room (`full`)"
    ),
    "stale reads": (
        "each stale read is listed in the results file (`stale_examples`: path, X-Cache, time "
        "since the last write ended) to be traced. The one this bench found (a same-role "
        "PATCH recorded an activity entry without the event that invalidates the feed) is "
        "fixed and has a regression test"
    ),
    "database reads": (
        "follows the hit rate: a miss costs 2-3 queries and a write 6-8, and refresh-ahead's "
        "loads after writes (background reads, counted) add about 0.05 per request; 8.1-8.3% "
        "of cache-off in the runs of 2026-12-03"
    ),
    "analytics cached": (
        "met: timed with wrk (one connection, one request at a time), 55.8x, 56.8x, 35.9x and "
        "40.2x in the four runs of 2026-12-03 that measured it; an HTTP client in Python adds "
        "about 1 ms to every request, most of a 0.3 ms hit, so its ratio stays at 12-17x "
        "(bench.cache_latency shows both)"
    ),
    "cache-event emission": (
        "noise at this scale: the figure compares p50s of a few milliseconds summed over eight "
        "endpoints (events on against off): -2.5%, +0.3% and +7.5% in three runs of "
        "2026-12-03 with no change to the events' path, -6.7% and -4.2% in two runs of the "
        "part alone; events are recorded in memory and sent in the background, one script "
        "call per thousand"
    ),
    "cached endpoint throughput": (
        "the hit path answers in front of FastAPI's whole stack, with its lookup packed once "
        "and sent without redis-py's command layer; what is left of a hit's CPU is mostly "
        "uvicorn's socket writes and the event loop, which both apps pay (py-spy under wrk, "
        "2026-12-03)"
    ),
    "server CPU per hit": (
        "met on 2026-12-03 (110-148% in five runs): the lookup's command is packed once per "
        "path, page and caller and sent on a pooled connection without redis-py's command "
        "layer, the answer goes out as prebuilt headers without a Starlette Response, and the "
        "route, ids and slots are remembered; the bare app pays FastAPI's routing and "
        "dependencies"
    ),
    "warming": (
        "met in the runs of 13:54Z (42.6 s from launch, p99 69.7 ms), 14:26Z (42.0 s, 95.6 "
        "ms) and 15:01Z (52.2 s, 63.9 ms), not before: the bench's warm-up had reached one of the "
        "two API workers "
        "only (one keep-alive connection), so the other served its first requests (imports, "
        "statement caches, new connections) in the phase's first second, 56-386 ms each. The "
        "margin is thin: the p99 is set by the phase's first two or three seconds, when the "
        "cache is empty and every request misses (slowest 257 ms in both variants at 14:26Z), "
        "and four runs of the phase alone measured 49-67 ms"
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
        "does), so waiting for a free connection counts too. Its HTTP client "
        "(`bench/load/http_client.py`) writes a request's bytes and parses the answer with "
        "httptools: aiohttp's own path was most of what it timed for a hit. What the generator "
        "and one uvicorn process measure alone at 200 req/s, the floor under the hits' p99, "
        "is in the ceiling's section (`open_loop_alone`).",
        "- Mix: users ranked by their activity (the most active first) and drawn by a Zipf law "
        "(weight 1/rank); organization dashboard (my "
        "organizations, members, teams, analytics) and study page (collaborators, comments, "
        "activity, permissions); 3% writes: comments, membership and collaborator role "
        "changes, by owners, so every write is allowed.",
        f"- Phases per variant, from a cold cache: {phases}. The first phase's hit rate per "
        "second is the warming curve; 'after warming' means the other phases. For collabcache and "
        "TTL-only the warm command runs during the first phase (which then lasts until it is "
        "done): README, 'Cache warming'.",
        f"- Every variant's API runs {load.get('api_workers', 1)} worker process(es) "
        "(`API_WORKERS`), served as production serves them (`bench/apps/served.py`: a "
        "listening socket per worker). Before the first phase each worker answers 40 GETs of the "
        "mix, and "
        "the cache is then emptied: a process's first requests (imports, statement caches, "
        "new connections) are not the cache's cost.",
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
