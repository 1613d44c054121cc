"""A change made by hand-written SQL reaches every cached GET it affects through the pipeline:
triggers -> outbox -> relay -> domain-events stream -> invalidator -> cache entries dropped.

Driven by `sql_cases.py`: the API write table's changes, made by SQL (nothing goes through the
API, so its inline invalidation plays no part). For each change, every affected GET is warmed
(its second read comes from the cache), the SQL commits, and each GET must show the change
within `PIPELINE_BOUND_S` of the commit, read through the cache (never a bypass), while the
change's events are on the stream, acknowledged by the invalidator's group and counted by it.
The negative control makes the same changes with no invalidator running: after the same wait
every GET still answers its old cached response; once an invalidator starts, they change.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from collabcache_shared.cache.keys import POLICIES
from collabcache_shared.events import DomainEvent
from collabcache_shared.invalidation import keys_for_events
from tests.integration.builders import Builder
from tests.integration.cache_http.endpoints import BY_ROUTE
from tests.integration.cache_http.write_cases import CASES
from tests.integration.cache_http.writes import STATS, Ctx, Read, Seen
from tests.integration.pipeline.conftest import MakePipeline
from tests.integration.pipeline.sql_cases import CHANGES, SQL_CASES, SqlCase
from tests.integration.pipeline.stack import Pipeline, entry_order

# Commit -> every affected GET shows the change (relay, stream, invalidator, reload), in-process
# on two shared cores. Measured at a few tens of milliseconds; see bench/invalidation_lag.py.
PIPELINE_BOUND_S = 2.0
# An invalidator starting on a backlog (the whole run's events) applies it within this.
BACKLOG_BOUND_S = 5.0
POLL_S = 0.01


async def _get(client: httpx.AsyncClient, ctx: Ctx, r: Read, *, fresh: bool = False) -> Seen:
    headers = ctx.person(r.who).headers
    if fresh:
        headers = {**headers, "Cache-Control": "no-cache"}
    return Seen.of(await client.get(BY_ROUTE[r.route].path(ctx.scene), headers=headers))


async def _warm(client: httpx.AsyncClient, ctx: Ctx, r: Read) -> Seen:
    """Read from the database, then from the cache: the second answer is a hit (or, refused,
    a cached standing)."""
    first = await _get(client, ctx, r, fresh=True)
    second = await _get(client, ctx, r)
    assert second.status == first.status, r
    if second.status == 200:
        assert second.x_cache == "HIT", (str(r), second.x_cache)
    assert not r.changed(second, second, ctx), f"{r}: holds before the change already"
    return second


async def _context(build: Builder, case: SqlCase) -> Ctx:
    ctx = Ctx(await build.scene())
    if case.newcomer:
        ctx.extra["newcomer"] = await build.user("newcomer")
    return ctx


@dataclass
class Watch:
    """One read, polled after the change: what each poll answered, and when it changed."""

    read: Read
    before: Seen
    outcomes: list[str] = field(default_factory=list)  # X-Cache, or the status without one
    changed: Seen | None = None
    after_s: float | None = None

    def __str__(self) -> str:
        return f"{self.read}: after {self.after_s}s, polls {self.outcomes}"


async def _watch(
    client: httpx.AsyncClient, ctx: Ctx, watches: list[Watch], since: float, within: float
) -> None:
    """Poll every unchanged read until it shows the change, or `within` seconds of `since`."""
    waiting = list(watches)
    while waiting and time.monotonic() - since <= within:
        for w in list(waiting):
            after = await _get(client, ctx, w.read)
            w.outcomes.append(after.x_cache or str(after.status))
            if w.read.changed(w.before, after, ctx):
                w.changed, w.after_s = after, round(time.monotonic() - since, 3)
                waiting.remove(w)
        await asyncio.sleep(POLL_S)


def _assert_seen_through_the_cache(w: Watch, within: float) -> None:
    assert w.changed is not None and w.after_s is not None, f"not within {within}s: {w}"
    assert w.after_s <= within, str(w)
    # A bypass reads the database whatever the cache holds: it would prove nothing.
    assert w.changed.x_cache != "BYPASS", str(w)
    family = BY_ROUTE[w.read.route].family
    if POLICIES[family].serve_stale and w.before.status == w.changed.status == 200:
        # Only an invalidation marks an entry stale: it was served STALE, then refreshed.
        assert "STALE" in w.outcomes or w.outcomes[0] == "MISS", str(w)


async def _assert_delivered_and_acknowledged(
    p: Pipeline, mark: str, events: list[DomainEvent]
) -> None:
    on_stream = {event.id: entry_id for entry_id, event in await p.events_since(mark)}
    missing = [e for e in events if e.id not in on_stream]
    assert not missing, f"not published to {p.stream}: {missing}"
    state = await p.group_state()
    assert (state.lag, state.pending) == (0, 0), state
    last = entry_order(await p.last_delivered())
    assert all(entry_order(on_stream[e.id]) <= last for e in events)


def test_every_api_write_has_its_sql_change() -> None:
    assert set(CHANGES) == {c.name for c in CASES}
    assert len({c.name for c in SQL_CASES}) == len(SQL_CASES) == len(CASES) + 2


@pytest.mark.parametrize("case", SQL_CASES, ids=lambda c: c.name)
async def test_a_sql_change_reaches_every_affected_get_through_the_pipeline(
    case: SqlCase, make_pipeline: MakePipeline
) -> None:
    p = await make_pipeline(invalidator=True)
    ctx = await _context(p.build, case)
    await p.settle()  # the scene's own events are applied before anything is warmed
    watches = [Watch(r, await _warm(p.client, ctx, r)) for r in case.reads]
    mark, processed = await p.stream_mark(), p.processed()

    events, committed = await p.change(case.change, ctx)
    await _watch(p.client, ctx, watches, committed, PIPELINE_BOUND_S)

    for w in watches:
        _assert_seen_through_the_cache(w, PIPELINE_BOUND_S)
    assert events, "the change wrote no event to the outbox"
    families = {key.family for key in keys_for_events(events)}
    assert all(w.read.depends <= families for w in watches), "a read's rule is not in the events"
    await p.settle()
    await _assert_delivered_and_acknowledged(p, mark, events)
    assert p.processed() - processed == Counter(e.type for e in events)


async def test_without_the_invalidator_sql_changes_stay_invisible_until_one_runs(
    make_pipeline: MakePipeline,
) -> None:
    """Every change of the table at once, each on a scene of its own, with no invalidator."""
    p = await make_pipeline(invalidator=False)
    contexts = [await _context(p.build, case) for case in SQL_CASES]
    await p.settle()
    for case, ctx in zip(SQL_CASES, contexts, strict=True):
        for r in case.reads:
            await _warm(p.client, ctx, r)
    # What the cache answers once all is warm (a later warm refreshed the shared platform figures).
    watches = [
        [Watch(r, await _get(p.client, ctx, r)) for r in case.reads]
        for case, ctx in zip(SQL_CASES, contexts, strict=True)
    ]
    assert all(w.before.x_cache in {"HIT", None} for ws in watches for w in ws)
    mark = await p.stream_mark()
    events: list[DomainEvent] = []
    for case, ctx in zip(SQL_CASES, contexts, strict=True):
        events += (await p.change(case.change, ctx))[0]
    await asyncio.sleep(PIPELINE_BOUND_S)  # every change had the bound, and more

    await p.settle()  # the relay did its part: every event is on the stream...
    published = {event.id for _, event in await p.events_since(mark)}
    assert {e.id for e in events} <= published
    for case_watches, ctx in zip(watches, contexts, strict=True):
        for w in case_watches:  # ...and nothing applied them: the old cached responses
            if not w.read.depends:
                continue  # a refusal becoming an answer: refusals are never cached
            after = await _get(p.client, ctx, w.read)
            assert not w.read.changed(w.before, after, ctx), f"visible without the pipeline: {w}"
            assert (after.status, after.json) == (w.before.status, w.before.json), str(w)
            assert after.x_cache == w.before.x_cache, str(w)

    await p.start_invalidator()
    started = time.monotonic()
    for case_watches, ctx in zip(watches, contexts, strict=True):
        # The platform figures move by the sum of every case's change: each case's own effect
        # on them is checked by the test above.
        own = [w for w in case_watches if w.read.route != STATS and w.read.depends]
        await _watch(p.client, ctx, own, started, BACKLOG_BOUND_S)
        for w in own:
            _assert_seen_through_the_cache(w, BACKLOG_BOUND_S)
    await p.settle()
