"""Invalidation lag through the whole pipeline, commit -> cache entry gone, at a steady write
rate; and one invalidator's throughput on a backlog already in the stream.

Separate processes, as deployed: the API under uvicorn (its outbox relay publishes), the
invalidator under uvicorn, a private `redis-server` with keyspace notifications on, and a
throwaway seeded database. The benchmark writes by SQL (`UPDATE comments`), so nothing goes
through the API and only the pipeline (trigger -> outbox -> relay -> stream -> invalidator) can
remove an entry. See `bench/lag_probe.py` for how each write is timed.

Burst: with the invalidator stopped, `--burst` comment updates go to the stream (through the
relay); a fresh invalidator process starts; the consumer group's state is polled every 10 ms and
the rate runs from the group's first delivery until its lag and pending count are both 0.

Usage: `uv run python -m bench.invalidation_lag [--rate 100] [--seconds 20] [--burst 10000]
[--smoke]` (DATABASE_URL names the PostgreSQL server; its own database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from bench import lag_probe
from bench.pipeline_stack import PrivateRedis, Service, api, invalidator, service_env
from bench.support import percentile, temporary_database
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.events import DOMAIN_EVENTS_STREAM, INVALIDATOR_GROUP

RESULTS = Path(__file__).resolve().parent / "results"
BURST_CHUNK = 2_000  # comment updates per transaction while filling the stream
DRAIN_GRACE_S = 5.0  # after the last write: how long an entry may take to go before it counts


def _seed_args(smoke: bool) -> list[str]:
    if smoke:
        return ["--scale", "0.05", "--studies", "60", "--comments", "600"]
    return ["--scale", "0.2", "--studies", "500", "--comments", "10000"]


async def steady(
    db: asyncpg.Pool, client: aioredis.Redis, url: str, keyspace: KeySpace, rate: float, s: float
) -> dict[str, Any]:
    pool = await lag_probe.targets(db, keyspace, limit=500)
    await lag_probe.warm(client, [t.key for t in pool])
    writes = lag_probe.SteadyWrites(db, client, pool)
    watch = lag_probe.DeletionWatch(url, asyncio.get_running_loop(), writes.deleted)
    watch.start()
    try:
        await writes.run(rate, s)
        await writes.drain(DRAIN_GRACE_S)
    finally:
        watch.stop()
        await writes.close()
    lags = [w.lag_ms for w in writes.writes if w.lag_ms is not None]
    return {
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(len(writes.writes) / writes.elapsed, 1),
        "writes": len(writes.writes),
        "targets": len(pool),
        "p50_ms": round(percentile(lags, 50), 2) if lags else None,
        "p95_ms": round(percentile(lags, 95), 2) if lags else None,
        "p99_ms": round(percentile(lags, 99), 2) if lags else None,
        "max_ms": round(max(lags), 2) if lags else None,
        "never_went": sum(w.deleted is None for w in writes.writes),
        "skipped_no_free_target": writes.skipped,
        "unexpected_deletions": writes.unexpected,
    }


async def _fill_stream(db: asyncpg.Pool, client: aioredis.Redis, stream: str, count: int) -> None:
    """`count` comment updates, published by the relay: wait until all are on the stream."""
    before = await client.xlen(stream)
    ids = [r["id"] for r in await db.fetch("SELECT id FROM comments ORDER BY id")]
    done = 0
    while done < count:
        chunk = min(BURST_CHUNK, count - done, len(ids))
        start = done % len(ids)
        batch = (ids + ids)[start : start + chunk]
        await db.execute("UPDATE comments SET body = body WHERE id = ANY($1::uuid[])", batch)
        done += chunk
    deadline = time.monotonic() + 120
    while await client.xlen(stream) < before + count or await db.fetchval(
        "SELECT count(*) FROM outbox"
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("the relay did not publish the burst within 120 s")
        await asyncio.sleep(0.05)


async def _group(client: aioredis.Redis, stream: str) -> dict[str, Any]:
    for group in await client.xinfo_groups(stream):
        if group["name"] in (INVALIDATOR_GROUP, INVALIDATOR_GROUP.encode()):
            return dict(group)
    raise RuntimeError("no invalidator group on the stream")


async def burst(
    db: asyncpg.Pool, client: aioredis.Redis, stream: str, consumer: Service, count: int
) -> dict[str, Any]:
    consumer.stop()
    await _fill_stream(db, client, stream, count)
    studies = [r["id"] for r in await db.fetch("SELECT id FROM studies")]
    space = KeySpace(prefix=consumer.env["REDIS_KEY_PREFIX"])
    await lag_probe.warm(
        client, [space.entry(CacheKey.of(Family.STUDY_COMMENTS, s)) for s in studies]
    )
    read_before = int((await _group(client, stream))["entries-read"] or 0)
    launched = time.monotonic()
    consumer.launch()
    first = None
    while True:
        group = await _group(client, stream)
        now = time.monotonic()
        if first is None and int(group["entries-read"] or 0) > read_before:
            first = now
        if first is not None and (group["lag"], group["pending"]) == (0, 0):
            break
        if now - launched > 300:
            raise TimeoutError("the invalidator did not drain the burst within 300 s")
        await asyncio.sleep(0.01)
    assert first is not None
    return {
        "events": count,
        "seconds": round(now - first, 3),
        "events_per_s": round(count / (now - first)),
        "start_to_first_delivery_s": round(first - launched, 3),
        "studies_warmed": len(studies),
    }


async def main(rate: float, seconds: float, burst_count: int, smoke: bool) -> dict[str, Any]:
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    prefix = f"bench-lag-{uuid.uuid4().hex[:6]}"
    keyspace = KeySpace(prefix=prefix)
    stream = keyspace.stream(DOMAIN_EVENTS_STREAM)
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(temporary_database(admin, _seed_args(smoke)))
        server = PrivateRedis()
        stack.callback(server.stop)
        server.launch()
        await server.wait_ready()
        env = service_env(database, server.url, prefix)
        relay, consumer = api(env), invalidator(env)
        stack.callback(relay.stop)
        stack.callback(consumer.stop)
        await asyncio.gather(relay.start("/health"), consumer.start("/ready"))
        db = await asyncpg.create_pool(database, min_size=2, max_size=10)
        stack.push_async_callback(db.close)
        client = aioredis.Redis.from_url(server.url)
        stack.push_async_callback(client.aclose)
        await _group(client, stream)  # the invalidator made its group: it consumes
        lag = await steady(db, client, server.url, keyspace, rate, seconds)
        backlog = await burst(db, client, stream, consumer, burst_count)
    return {
        "processes": "api (uvicorn, outbox relay) + invalidator (uvicorn) + private redis-server",
        "writes": "SQL UPDATE comments, autocommit; lag = commit returned -> keyevent del",
        "steady": lag,
        "burst": backlog,
    }


def report(result: dict[str, Any]) -> str:
    s, b = result["steady"], result["burst"]
    return "\n".join(
        [
            "| commit -> entry gone | writes | rate/s | p50 | p95 | p99 | max | never went |",
            "|---|---|---|---|---|---|---|---|",
            f"| steady | {s['writes']} | {s['achieved_rate_per_s']} | {s['p50_ms']} ms | "
            f"{s['p95_ms']} ms | {s['p99_ms']} ms | {s['max_ms']} ms | {s['never_went']} |",
            "",
            f"Writes skipped (no warm target free): {s['skipped_no_free_target']}; "
            f"unexpected deletions: {s['unexpected_deletions']}",
            f"Burst: {b['events']} events in {b['seconds']} s = {b['events_per_s']} events/s "
            f"on one invalidator (first delivery {b['start_to_first_delivery_s']} s after launch)",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady phase duration")
    parser.add_argument("--burst", type=int, default=10_000, help="events in the backlog")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no figures kept")
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds, args.burst = 50.0, 2.0, 500
    outcome = asyncio.run(main(args.rate, args.seconds, args.burst, args.smoke))
    print(report(outcome))
    if not args.smoke:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (RESULTS / f"invalidation_lag-{stamp}.json").write_text(json.dumps(outcome, indent=2))
