"""Analytics may be served stale: for at most the stale bound, while one background refresh
runs, which waits until the entry is `CACHE_STALE_REFRESH_SECONDS` old (the writes of that
time cost one refresh); with a bound of zero a read after a write is always fresh."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import event

from collabcache_api import analytics
from collabcache_api.main import create_app
from collabcache_shared.cache import manager as manager_module
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import CacheManager, Outcome
from collabcache_shared.cache.store import EntryStore, Slot
from collabcache_shared.settings import ApiSettings, CacheSettings, RedisSettings
from tests.integration.builders import Scene
from tests.integration.cache_http.layers import hit_path_of
from tests.integration.statements import StatementCounter

MEMBERS_BY_ROLE_SQL = "SELECT role, count(*) FROM organization_members"
REFRESH_WITHIN_S = 2.0


def _comments(response: httpx.Response) -> int:
    return sum(day["count"] for day in response.json()["comments_per_day"])


async def _comment(client: httpx.AsyncClient, s: Scene, text: str = "news") -> None:
    path = f"/api/collaboration/studies/{s.study_id}/comments"
    response = await client.post(path, json={"body": text}, headers=s.editor.headers)
    assert response.status_code == 201, response.text


async def _warm(client: httpx.AsyncClient, path: str, s: Scene) -> httpx.Response:
    assert (await client.get(path, headers=s.owner.headers)).headers["x-cache"] == "MISS"
    hit = await client.get(path, headers=s.owner.headers)
    assert hit.headers["x-cache"] == "HIT"
    return hit


async def _until(
    read: Callable[[], Any], done: Callable[[httpx.Response], bool], within: float
) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response: httpx.Response = await read()
        if done(response):
            return response
        assert time.monotonic() < deadline, f"not done after {within}s: {response.headers}"
        await asyncio.sleep(0.02)


async def test_stale_then_one_background_refresh_then_fresh(
    app: Any, client: httpx.AsyncClient, scene: Scene, sql: StatementCounter
) -> None:
    path = f"/api/organizations/{scene.org_id}/analytics"
    pool = app.state.container.engine.pool
    idle = pool.checkedout()  # connections in use when no request is running
    before = await _warm(client, path, scene)
    await _comment(client, scene)
    sql.statements.clear()

    stale = await client.get(path, headers=scene.owner.headers)
    assert stale.headers["x-cache"] == "STALE"
    assert int(stale.headers["age"]) >= 0
    assert stale.content == before.content  # the old figures, within the bound

    burst = await asyncio.gather(
        *(client.get(path, headers=scene.owner.headers) for _ in range(20))
    )
    assert {r.status_code for r in burst} == {200}
    assert {r.headers["x-cache"] for r in burst} <= {"STALE", "HIT"}

    def fresh(r: httpx.Response) -> bool:
        return r.headers["x-cache"] == "HIT" and _comments(r) == _comments(before) + 1

    read = lambda: client.get(path, headers=scene.owner.headers)  # noqa: E731
    after = await _until(read, fresh, REFRESH_WITHIN_S)
    assert after.headers["etag"] != before.headers["etag"]
    assert sql.count(MEMBERS_BY_ROLE_SQL) == 1, "one background refresh, not one per request"
    # the refresh gave its connection back (it must not reuse the request's closed session)
    await _until(read, lambda r: pool.checkedout() <= idle, 1.0)


async def test_writes_within_the_refresh_spacing_cost_one_refresh(
    make_app: Callable[..., Any], scene: Scene
) -> None:
    """Three writes in a row: the reads between them are STALE, answered by the hit path, and
    no refresh starts until the entry is `stale_refresh_seconds` old; then one refresh shows
    all three."""
    spacing = 2.0
    application, client = await make_app(stale_refresh_seconds=spacing, events_enabled=False)
    path = f"/api/organizations/{scene.org_id}/analytics"
    filled = time.monotonic()  # a little before the fill
    before = _comments(await _warm(client, path, scene))
    layer = hit_path_of(application)
    served = layer.served
    sql = StatementCounter()
    event.listen(application.state.container.engine.sync_engine, "before_cursor_execute", sql)
    for round_ in range(3):
        await _comment(client, scene, f"round {round_}")
        read = await client.get(path, headers=scene.owner.headers)
        assert read.headers["x-cache"] == "STALE", round_
        assert _comments(read) == before
    assert layer.served == served + 3, "a STALE answer is the hit path's"
    assert time.monotonic() - filled < spacing, "too slow a machine for this test"
    assert sql.count(MEMBERS_BY_ROLE_SQL) == 0, "a refresh before the entry was old enough"

    def fresh(r: httpx.Response) -> bool:
        return r.headers["x-cache"] == "HIT" and _comments(r) == before + 3

    read_ = lambda: client.get(path, headers=scene.owner.headers)  # noqa: E731
    await _until(read_, fresh, spacing + REFRESH_WITHIN_S)
    assert time.monotonic() - filled >= spacing
    assert sql.count(MEMBERS_BY_ROLE_SQL) == 1, "one refresh for the three writes"


async def test_an_entry_older_than_the_spacing_is_refreshed_at_once(
    make_app: Callable[..., Any], scene: Scene
) -> None:
    """The spacing only delays the refresh of an entry filled less than that long ago."""
    spacing = 2.0
    _, client = await make_app(stale_refresh_seconds=spacing, events_enabled=False)
    path = f"/api/organizations/{scene.org_id}/analytics"
    before = _comments(await _warm(client, path, scene))
    await asyncio.sleep(spacing)
    await _comment(client, scene)
    written = time.monotonic()
    assert (await client.get(path, headers=scene.owner.headers)).headers["x-cache"] == "STALE"

    def fresh(r: httpx.Response) -> bool:
        return r.headers["x-cache"] == "HIT" and _comments(r) == before + 1

    read = lambda: client.get(path, headers=scene.owner.headers)  # noqa: E731
    await _until(read, fresh, spacing / 2)
    assert time.monotonic() - written < spacing / 2


@pytest.fixture
async def make_app(
    api_settings: ApiSettings, redis_settings: RedisSettings
) -> AsyncIterator[Callable[..., Any]]:
    """Another app on the same database and Redis, with its own cache settings."""
    stack: list[Any] = []

    async def make(**cache: Any) -> tuple[Any, httpx.AsyncClient]:
        application = create_app(api_settings, redis_settings, CacheSettings(**cache))
        lifespan = application.router.lifespan_context(application)
        await lifespan.__aenter__()
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t"
        )
        stack.append((lifespan, http))
        return application, http

    yield make
    for lifespan, http in reversed(stack):
        await http.aclose()
        await lifespan.__aexit__(None, None, None)


async def test_with_a_zero_stale_bound_a_read_after_a_write_is_fresh(
    make_app: Callable[..., Any], scene: Scene
) -> None:
    _, client = await make_app(stale_bound_seconds=0, events_enabled=False)
    path = f"/api/organizations/{scene.org_id}/analytics"
    expected = _comments(await _warm(client, path, scene))
    for round_ in range(5):
        await _comment(client, scene, f"round {round_}")
        expected += 1
        read = await client.get(path, headers=scene.owner.headers)
        assert read.headers["x-cache"] == "MISS", round_
        assert "age" not in read.headers
        assert _comments(read) == expected


async def test_staleness_ends_at_the_bound_even_if_the_refresh_hangs(
    make_app: Callable[..., Any], scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh never finishes: reads are STALE only until the bound, then fresh (MISS)."""
    bound = 1
    app2, client = await make_app(
        stale_bound_seconds=bound, stampede_wait_seconds=0.2, events_enabled=False
    )
    path = f"/api/organizations/{scene.org_id}/analytics"
    before = _comments(await _warm(client, path, scene))
    real = analytics.service.organization_analytics
    hang = asyncio.Event()
    calls = 0

    async def first_call_hangs(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            await hang.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(analytics.service, "organization_analytics", first_call_hangs)
    await _comment(client, scene)
    written = time.monotonic()
    try:
        outcomes = []
        while time.monotonic() - written < bound + 0.5:
            read = await client.get(path, headers=scene.owner.headers)
            outcomes.append(read.headers["x-cache"])
            if read.headers["x-cache"] == "STALE":
                assert time.monotonic() - written <= bound + 0.1
                assert _comments(read) == before
            else:
                assert _comments(read) == before + 1, read.headers
            await asyncio.sleep(0.05)
        assert outcomes[0] == "STALE" and outcomes[-1] in {"MISS", "HIT"}, outcomes
    finally:
        hang.set()
        await app2.state.container.cache.aclose()


async def test_a_zero_bound_never_serves_stale_even_within_the_same_millisecond(
    redis: Redis, app_keyspace: KeySpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Manager level, with a frozen clock: the read right after the invalidation is a load."""
    cache = CacheManager(EntryStore(redis, app_keyspace), CacheSettings(stale_bound_seconds=0))
    monkeypatch.setattr(manager_module, "now_ms", lambda: 1_000_000)
    slot = Slot(CacheKey.of(Family.ORGANIZATION_ANALYTICS, uuid.uuid4()))
    assert (await cache.get_or_load(slot, lambda: _const(b"old"))).outcome is Outcome.MISS
    assert await cache.invalidate([slot.key])
    after = await cache.get_or_load(slot, lambda: _const(b"new"))
    assert (after.outcome, after.body) == (Outcome.MISS, b"new")


async def _const(value: bytes) -> bytes:
    return value
