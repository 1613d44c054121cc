"""Read your writes (README, "Consistency guarantees, in plain words"): once a write has
answered, every cached GET it affects answers data that includes it (analytics: STALE at most
until one background refresh ends).

Driven by the table in `write_cases.py`, which covers every write route of the OpenAPI. The
negative control removes, one read at a time, the invalidation that read depends on and shows
the old response comes back: each positive check would fail were that rule missing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from collabcache_api import unit_of_work
from collabcache_shared.cache.keys import POLICIES, CacheKey
from collabcache_shared.invalidation import certificates_for
from tests.cache_support import retire
from tests.integration.builders import Builder
from tests.integration.cache_http.endpoints import BY_ROUTE
from tests.integration.cache_http.write_cases import CASES
from tests.integration.cache_http.writes import Case, Ctx, Read, Seen

STALE_REFRESH_WITHIN_S = 2.0
WRITES = {"post", "patch", "put", "delete"}


async def _get(client: httpx.AsyncClient, ctx: Ctx, r: Read, *, fresh: bool = False) -> Seen:
    path = BY_ROUTE[r.route].path(ctx.scene)
    headers = ctx.person(r.who).headers
    if fresh:
        headers = {**headers, "Cache-Control": "no-cache"}
    return Seen.of(await client.get(path, headers=headers))


async def _warm(client: httpx.AsyncClient, ctx: Ctx, r: Read) -> Seen:
    """Read twice: the second answer comes from the cache (a hit, or a cached standing).
    The first reads the database: the builders wrote behind the cache's back (system-wide
    figures cached by an earlier test do not count this test's scene)."""
    first = await _get(client, ctx, r, fresh=True)
    second = await _get(client, ctx, r)
    assert second.status == first.status, r
    if second.status == 200:
        assert second.x_cache == "HIT", (r, second.x_cache)
    assert not r.changed(second, second, ctx), f"{r}: holds before the write already"
    return second


async def _write(client: httpx.AsyncClient, case: Case, ctx: Ctx) -> None:
    body = case.body(ctx) if case.body else None
    response = await client.request(
        case.method, case.path(ctx), json=body, headers=ctx.person(case.actor).headers
    )
    assert response.status_code in (200, 201, 204), (case.name, response.text)
    ctx.written = response.json() if response.content else None


async def _context(build: Builder, case: Case) -> Ctx:
    ctx = Ctx(await build.scene())
    if case.newcomer:
        ctx.extra["newcomer"] = await build.user("newcomer")
    return ctx


async def _sees_the_write(client: httpx.AsyncClient, ctx: Ctx, r: Read, before: Seen) -> None:
    after = await _get(client, ctx, r)
    if r.changed(before, after, ctx):
        return
    family = BY_ROUTE[r.route].family
    assert POLICIES[family].serve_stale and after.x_cache == "STALE", (
        f"{r}: the old response after the write (X-Cache: {after.x_cache}, {after.status})"
    )
    assert after.age is not None, f"{r}: STALE without an Age header"
    deadline = time.monotonic() + STALE_REFRESH_WITHIN_S
    while not r.changed(before, after, ctx):
        assert time.monotonic() < deadline, f"{r}: still stale after {STALE_REFRESH_WITHIN_S}s"
        await asyncio.sleep(0.05)
        after = await _get(client, ctx, r)
        assert after.x_cache in {"STALE", "HIT", "MISS"}, after


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_every_affected_get_sees_the_write_at_once(
    case: Case, client: httpx.AsyncClient, build: Builder
) -> None:
    ctx = await _context(build, case)
    before = [await _warm(client, ctx, r) for r in case.reads]
    await _write(client, case, ctx)
    for r, seen in zip(case.reads, before, strict=True):
        await _sees_the_write(client, ctx, r, seen)


def test_the_table_covers_every_write_route(app: Any) -> None:
    routes = {
        (method.upper(), path)
        for path, ops in app.openapi()["paths"].items()
        for method in ops
        if method in WRITES
    }
    assert {(c.method, c.route) for c in CASES} == routes
    for case in CASES:
        assert case.reads, case.name
        assert all(r.route in BY_ROUTE for r in case.reads), case.name


# A read that depends on no cached entry (a refusal becoming an answer: refusals are never
# cached) has no invalidation to leave out.
NEGATIVE = [(c, r) for c in CASES for r in c.reads if r.depends]


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> list[Read]:
    """The write's invalidations, less those of the families these reads depend on."""
    reads: list[Read] = []

    def fewer_keys(events: Any) -> dict[CacheKey, list[str]]:
        dropped = {f for r in reads for f in r.depends}
        return {k: ids for k, ids in certificates_for(events).items() if k.family not in dropped}

    monkeypatch.setattr(unit_of_work, "certificates_for", fewer_keys)
    return reads


@pytest.mark.parametrize("case,r", NEGATIVE, ids=[f"{c.name}: {r}" for c, r in NEGATIVE])
async def test_without_its_invalidation_the_read_stays_old(
    case: Case, r: Read, client: httpx.AsyncClient, build: Builder, app: Any, without: list[Read]
) -> None:
    without.append(r)
    ctx = await _context(build, case)
    try:
        before = await _warm(client, ctx, r)
        await _write(client, case, ctx)
        after = await _get(client, ctx, r)
        assert not r.changed(before, after, ctx), f"{r} is fresh without {set(r.depends)}"
        assert after.x_cache in {None, "HIT", "STALE"}, after
    finally:  # retire what was left stale, so no later test reads it
        for family in r.depends:
            await retire(app.state.container.cache.store, [family])
