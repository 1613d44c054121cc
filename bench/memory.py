"""Redis memory of a fully warm cache, extrapolated to 100,000 users (target: < 1 GB,
README "Benchmarks"; judged on the figure `bench.memory_100k` measures, this model beside it).

On a private `redis-server` and a freshly seeded database, the real API (uvicorn) warms a
sample of every cached family: each sampled scope (an organization, a team, a study, a user,
the system) is read by a viewer allowed to see it, every page of it (all variants of the
entry cached: the worst case). The bytes of each entry are Redis's `MEMORY USAGE key SAMPLES 0`,
averaged per family. USER_PERMISSIONS is measured per field (the standing of one user on one
organization, team or study) on sampled users, one kind of standing after the other.

The model for N users (every entry cached at once, default page size):
- a family keyed by an organization, team or study: N x (scopes per user in the seeded data)
  x mean bytes per entry; keyed by a user: N x mean bytes; global: once;
- USER_PERMISSIONS: N x sum over kinds of (standings per user) x bytes per standing, where a
  user's standings are every organization they belong to and every team and study of those;
- x the overhead of Redis itself: the growth of the data set (`MEMORY STATS` dataset.bytes
  plus the key tables) during the warm-up over the sum of the `MEMORY USAGE` of every key;
- + the empty server's `used_memory`, + the cache-events stream at its MAXLEN.
Also printed, not judged: the same model when users hold standings only on what they may see
(their organizations and teams, the studies they collaborate on, all studies of the
organizations they manage) rather than on every study of their organizations.

Usage: `uv run python -m bench.memory [--profile smoke|quick|full]` (uses DATABASE_URL;
creates and drops its own database; smoke writes no result file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from bench.memory_warm import PATHS, STANDING_PATHS, Dataset, Warmer, load_dataset, sample
from bench.pipeline_stack import PrivateRedis, api
from bench.support import temporary_database
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.events import CACHE_EVENTS_STREAM
from collabcache_shared.settings import CacheSettings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_USERS = 100_000
TARGET_BYTES = 1_000_000_000  # "1 GB", decimal: the stricter reading


@dataclass(frozen=True, slots=True)
class Plan:
    seed_args: tuple[str, ...]
    scopes: int  # sampled organizations / teams / studies / users per family
    standing_users: int
    standings_per_kind: int  # at most this many standings of each kind per sampled user


PLANS = {
    "smoke": Plan(("--scale", "0.2"), 10, 3, 10),
    "quick": Plan(("--scale", "1"), 150, 20, 25),
    "full": Plan(("--scale", "5", "--orgs", "100", "--teams", "1000"), 600, 50, 40),
}


@asynccontextmanager
async def _stack(plan: Plan) -> AsyncIterator[tuple[Dataset, PrivateRedis, str, str]]:
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis = PrivateRedis()
    redis.launch()
    try:
        await redis.wait_ready()
        async with temporary_database(admin, list(plan.seed_args)) as database:
            prefix = f"bench-memory-{uuid.uuid4().hex[:6]}"
            env = {
                "DATABASE_URL": database,
                "REDIS_URL": redis.url,
                "REDIS_KEY_PREFIX": prefix,
                "ENVIRONMENT": "test",
                "REDIS_SOCKET_TIMEOUT": "0.5",
                "CACHE_OPERATION_TIMEOUT_SECONDS": "1.0",
            }
            server = api(env)
            try:
                await server.start("/health")
                yield await load_dataset(database), redis, server.url, prefix
            finally:
                server.stop()
    finally:
        redis.stop()


async def _usage(client: aioredis.Redis, names: list[str]) -> list[int]:
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.memory_usage(name, samples=0)
    return [int(u or 0) for u in await pipe.execute()]


async def _dataset_bytes(client: aioredis.Redis) -> int:
    """The data set and the key tables (dict and expiry dict) of every database."""
    stats = await client.memory_stats()
    tables = sum(
        int(v) for k, d in stats.items() if k.startswith("db.") and isinstance(d, dict)
        for v in d.values()
    )  # fmt: skip
    return int(stats["dataset.bytes"]) + tables


async def _all_keys_usage(client: aioredis.Redis, skip: str) -> int:
    names = [k async for k in client.scan_iter(count=1000) if k.decode() != skip]
    return sum(await _usage(client, names))


async def _families(
    data: Dataset, warmer: Warmer, client: aioredis.Redis, keys: KeySpace, plan: Plan
) -> dict[str, dict[str, Any]]:
    rng = random.Random(7)
    measured: dict[str, dict[str, Any]] = {}
    for family, (kind, template) in PATHS.items():
        scopes = sample(data.scopes(kind), plan.scopes, rng)
        await warmer.all([(template.format(s), data.viewer(kind, s)) for s in scopes])
        ids = [] if kind == "global" else [[s] for s in scopes]
        names = [keys.entry(CacheKey.of(family, *i)) for i in (ids or [[]])]
        usage = [u for u in await _usage(client, names) if u]
        measured[family.value] = {
            "scope": kind,
            "sampled": len(scopes),
            "entries_found": len(usage),
            "mean_bytes": round(sum(usage) / len(usage), 1) if usage else 0.0,
            "max_bytes": max(usage, default=0),
        }
    return measured


async def _standings(
    data: Dataset, warmer: Warmer, client: aioredis.Redis, keys: KeySpace, plan: Plan
) -> dict[str, dict[str, Any]]:
    """Bytes per standing of each kind: the growth of sampled users' USER_PERMISSIONS entries
    as one kind after the other is read (the first kind carries the entry's own overhead)."""
    rng = random.Random(11)
    users = sample([u for u in data.users if u in data.memberships], plan.standing_users, rng)
    names = [keys.entry(CacheKey.of(Family.USER_PERMISSIONS, u)) for u in users]
    before = sum(await _usage(client, names))
    out: dict[str, dict[str, Any]] = {}
    for kind, template in STANDING_PATHS.items():
        jobs = [
            (template.format(scope), user)
            for user in users
            for scope in data.standings_of(user)[kind][: plan.standings_per_kind]
        ]
        await warmer.all(jobs, refused_ok=True)  # a study they may not see: a cached 404
        after = sum(await _usage(client, names))
        out[kind] = {"standings": len(jobs), "bytes_per_standing": _ratio(after - before, jobs)}
        before = after
    return out


def _ratio(total: int, jobs: list[Any]) -> float:
    return round(total / len(jobs), 1) if jobs else 0.0


def _model(
    data: Dataset, families: dict[str, dict[str, Any]], standings: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    users = data.counts["users"]
    per_user = {"org": "organizations", "team": "teams", "study": "studies"}
    scale = {k: data.counts[t] / users for k, t in per_user.items()} | {"user": 1.0}
    lines: dict[str, float] = {}
    for name, f in families.items():
        entries = 1.0 if f["scope"] == "global" else TARGET_USERS * scale[f["scope"]]
        lines[name] = entries * f["mean_bytes"]
    mean_standings = data.mean_standings_per_user()
    lines[Family.USER_PERMISSIONS.value] = TARGET_USERS * sum(
        mean_standings[k] * standings[k]["bytes_per_standing"] for k in STANDING_PATHS
    )
    visible = {**mean_standings, "study": data.visible_studies_per_user}
    visible_permissions = TARGET_USERS * sum(
        visible[k] * standings[k]["bytes_per_standing"] for k in STANDING_PATHS
    )
    return {
        "visible_studies_per_user": round(data.visible_studies_per_user, 2),
        "entries_bytes_visible_standings": round(
            sum(lines.values()) - lines[Family.USER_PERMISSIONS.value] + visible_permissions
        ),
        "scopes_per_user": {k: round(v, 4) for k, v in scale.items()},
        "standings_per_user": {k: round(v, 2) for k, v in mean_standings.items()},
        "bytes_by_family": {k: round(v) for k, v in sorted(lines.items(), key=lambda x: -x[1])},
        "entries_bytes": round(sum(lines.values())),
    }


async def main(profile: str = "quick") -> dict[str, Any]:
    plan = PLANS[profile]
    async with _stack(plan) as (data, redis, url, prefix):
        keys = KeySpace(prefix=prefix)
        stream = keys.stream(CACHE_EVENTS_STREAM)
        client = aioredis.Redis.from_url(redis.url)
        try:
            empty = int((await client.info("memory"))["used_memory"])
            empty_dataset = await _dataset_bytes(client)
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                warmer = Warmer(http)
                standings = await _standings(data, warmer, client, keys, plan)
                families = await _families(data, warmer, client, keys, plan)
            await asyncio.sleep(0.5)  # the last cache events are flushed
            used = int((await client.info("memory"))["used_memory"])
            dataset = await _dataset_bytes(client) - empty_dataset
            stream_usage = (await _usage(client, [stream]))[0]
            events = int(await client.xlen(stream)) or 1
            keys_usage = await _all_keys_usage(client, stream)
        finally:
            await client.aclose()
    model = _model(data, families, standings)
    overhead = (dataset - stream_usage) / keys_usage if keys_usage else 1.0
    stream_bound = CacheSettings().events_maxlen * stream_usage / events
    total = model["entries_bytes"] * overhead + empty + stream_bound
    visible_total = model["entries_bytes_visible_standings"] * overhead + empty + stream_bound
    permissions = model["bytes_by_family"][Family.USER_PERMISSIONS.value] * overhead
    per_standing = sum(v["bytes_per_standing"] * v["standings"] for v in standings.values()) / max(
        1, sum(v["standings"] for v in standings.values())
    )
    # How many standings per user fit in the target beside everything else.
    budget = (TARGET_BYTES - (total - permissions)) / (TARGET_USERS * per_standing * overhead)
    measured = f"{total / 1e6:,.0f} MB for {TARGET_USERS:,} users (model, worst case)"
    return {
        "profile": profile,
        "dataset": data.counts,
        "warm_requests": warmer.requests,
        "warm_outcomes": dict(warmer.outcomes),
        "families": families,
        "standings": standings,
        "used_memory": {"empty": empty, "warm": used},
        "dataset_growth_bytes": dataset,
        "keys_usage_sum": keys_usage,
        "overhead_factor": round(overhead, 3),
        "cache_events_stream": {"bytes_per_event": round(stream_usage / events, 1)}
        | {"bound_bytes": round(stream_bound)},
        "model": model,
        "total_bytes": round(total),
        "total_bytes_visible_standings": round(visible_total),
        "total_bytes_without_permissions": round(total - permissions),
        "standings_per_user_within_target": round(budget, 1),
        "targets": [
            {
                "name": "Redis memory, 100,000-user dataset",
                "target": "< 1 GB",
                "measured": measured,
                "met": total < TARGET_BYTES,
            }
        ],
    }


def report(result: dict[str, Any]) -> str:
    model = result["model"]
    lines = [
        "| family | scope | sampled | mean bytes per entry | modelled bytes at 100k users |",
        "|---|---|---|---|---|",
    ]
    for name, f in result["families"].items():
        lines.append(
            f"| {name} | {f['scope']} | {f['entries_found']}/{f['sampled']} | "
            f"{f['mean_bytes']:,.0f} | {model['bytes_by_family'][name] / 1e6:,.1f} MB |"
        )
    st = result["standings"]
    per = ", ".join(f"{k} {v['bytes_per_standing']:,.0f} B" for k, v in st.items())
    lines.append(
        f"| USER_PERMISSIONS | user (per standing: {per}) | "
        f"{sum(v['standings'] for v in st.values())} standings | - | "
        f"{model['bytes_by_family']['USER_PERMISSIONS'] / 1e6:,.1f} MB |"
    )
    target = result["targets"][0]
    stream_mb = result["cache_events_stream"]["bound_bytes"] / 1e6
    lines += [
        "",
        f"Dataset {result['dataset']}; per user: {model['scopes_per_user']}, standings "
        f"{model['standings_per_user']}",
        f"Entries {model['entries_bytes'] / 1e6:,.1f} MB x Redis overhead "
        f"{result['overhead_factor']} + empty server {result['used_memory']['empty'] / 1e6:.1f} "
        f"MB + cache-events stream at MAXLEN {stream_mb:.1f} MB = "
        f"{result['total_bytes'] / 1e6:,.0f} MB; target {target['target']}: "
        f"{'met' if target['met'] else 'NOT met'} by the model (the target is judged on the "
        "measured figure: bench.memory_100k)",
        f"With standings only on what users may see ({model['visible_studies_per_user']} "
        f"studies per user instead of {model['standings_per_user']['study']}): "
        f"{result['total_bytes_visible_standings'] / 1e6:,.0f} MB (not judged)",
        f"Everything but USER_PERMISSIONS: {result['total_bytes_without_permissions'] / 1e6:,.0f}"
        f" MB; standings per user that fit in 1 GB beside it: "
        f"{result['standings_per_user_within_target']}",
        f"Warm-up: {result['warm_requests']} requests, X-Cache {result['warm_outcomes']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=sorted(PLANS), default="quick")
    parser.add_argument("--smoke", action="store_true", help="same as --profile smoke")
    args = parser.parse_args()
    chosen = "smoke" if args.smoke else args.profile
    outcome = asyncio.run(main(chosen))
    print(report(outcome))
    if chosen != "smoke":
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (RESULTS / f"memory-{stamp}.json").write_text(json.dumps(outcome, indent=2))
