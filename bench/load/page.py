"""The prose of docs/benchmarks.md: how the load is made and what limits a missed target."""

from __future__ import annotations

from typing import Any

# The likely limit of each target when it is missed, keyed by the start of the target's name.
# An engineer's reading of the architecture, to confirm with a profile of the run (py-spy or
# pyinstrument, both in the venv; `python -m bench.ceiling --py-spy DIR` records one).
LIMITS = {
    "cached GET p99": (
        "a hit is one Redis round trip, but the request around it is Python on 2 cores shared "
        "with PostgreSQL, Redis and the generator. A py-spy profile of the collabcache API at "
        "100 req/s (79% hits, 2026-12-01, busy machine) shows ~12% of its main thread handing "
        "the synchronous dependencies (`get_container`, `get_settings`, `get_current_user_id`, "
        "`get_page_request` in deps.py) to the threadpool, up to four thread hops per request; "
        "`async def` versions would run inline. The tail beyond that is event-loop queueing"
    ),
    "hit rate": (
        "the quick profile's phases are short: keys first seen after warming (the Zipf tail: "
        "10,000 users, 5,000 studies) are misses, and every write deletes the keys it changes "
        "so the next read is a miss by design"
    ),
    "stale reads": (
        "each stale read is listed in the results file (`stale_examples`: path, X-Cache, time "
        "since the last write ended) to be traced; reads are sampled, and under overload "
        "(seconds of queueing) a write of another phase can still be in flight"
    ),
    "database reads": (
        "misses and writes still read: the hit rate bounds the saving, and each write reads "
        "the rows it checks (standing, locks) whatever the cache"
    ),
    "cached endpoint throughput": (
        "the cached endpoint runs the whole FastAPI stack (routing, dependencies, auth, "
        "standing check) in one Python worker, its synchronous dependencies each a threadpool "
        "hop (see the p99 note); the bare app is a Redis GET behind uvicorn"
    ),
    "invalidation lag": (
        "commit -> outbox trigger -> relay (LISTEN/NOTIFY) -> stream -> invalidator -> DEL: "
        "four processes on 2 shared cores; under other load the relay's wake-up dominates"
    ),
    "invalidator throughput": (
        "one consumer in Python: per-event decoding and key computation, batched DELs"
    ),
}


def limits_section(result: dict[str, Any]) -> list[str]:
    missed = [t for t in result.get("targets", []) if t["met"] is False]
    if not missed:
        return []
    lines = [
        "## Where a target is not met",
        "",
        "Figures taken on a machine busy with other work are noisy; the likely limits below "
        "are to be confirmed with a profile of a quiet run.",
        "",
    ]
    for t in missed:
        why = next((v for k, v in LIMITS.items() if t["name"].startswith(k)), None)
        because = f"likely limit: {why}" if why else "no analysis yet"
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
