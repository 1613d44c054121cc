"""Refresh-ahead (README, "Refresh-ahead"): after a write, a hot entry it dropped is loaded
again at once, so the next read is a hit, and a fresh one; a cold entry is left to the next
reader; the invalidator's drop of the write's events spares the refreshed value."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from collabcache_api.main import create_app
from collabcache_invalidator.handlers import apply_batch
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import EntryStore
from collabcache_shared.clock import now_ms
from collabcache_shared.events import DomainEvent
from collabcache_shared.settings import ApiSettings, CacheSettings, RedisSettings
from tests.integration.builders import Builder, Scene

HOT = 3  # reads that make an entry hot (CACHE_REFRESH_AHEAD_READS)


@pytest.fixture(params=[True, False], ids=["refresh-ahead", "off"])
async def served(
    request: pytest.FixtureRequest, api_settings: ApiSettings, redis_settings: RedisSettings
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = CacheSettings(refresh_ahead=request.param, refresh_ahead_reads=HOT)
    app = create_app(api_settings, redis_settings, settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client


def comments(s: Scene) -> str:
    return f"/api/collaboration/studies/{s.study_id}/comments"


async def write_comment(client: httpx.AsyncClient, s: Scene, body: str) -> None:
    created = await client.post(comments(s), headers=s.editor.headers, json={"body": body})
    assert created.status_code == 201, created.text


async def settled(app: Any) -> None:
    ahead = app.state.container.refresh_ahead
    if ahead is not None:
        await ahead.idle()


async def test_a_hot_entry_is_loaded_again_right_after_the_write_that_dropped_it(
    served: tuple[Any, httpx.AsyncClient], build: Builder
) -> None:
    app, client = served
    s = await build.scene()
    for _ in range(HOT):
        assert (await client.get(comments(s), headers=s.viewer.headers)).status_code == 200
    await write_comment(client, s, "refreshed ahead")
    await settled(app)
    after = await client.get(comments(s), headers=s.viewer.headers)
    bodies = [c["body"] for c in after.json()["items"]]
    assert "refreshed ahead" in bodies  # fresh, whichever way it came
    ahead = app.state.container.refresh_ahead
    expected = "HIT" if ahead is not None else "MISS"
    assert after.headers["x-cache"] == expected
    if ahead is not None:
        assert ahead.counters["refreshed"] >= 1


async def test_a_cold_entry_is_left_to_its_next_reader(
    served: tuple[Any, httpx.AsyncClient], build: Builder
) -> None:
    app, client = served
    s = await build.scene()
    await client.get(comments(s), headers=s.viewer.headers)  # read once: not hot
    await write_comment(client, s, "not refreshed")
    await settled(app)
    after = await client.get(comments(s), headers=s.viewer.headers)
    assert after.headers["x-cache"] == "MISS"


async def test_the_invalidators_drop_spares_the_refreshed_value(
    served: tuple[Any, httpx.AsyncClient],
    build: Builder,
    redis: Redis,
    app_keyspace: KeySpace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client = served
    if app.state.container.refresh_ahead is None:
        pytest.skip("refresh-ahead off: nothing to spare")
    from collabcache_api import transaction_events

    s = await build.scene()
    events: list[DomainEvent] = []
    read_back = transaction_events.of_current_transaction

    async def recording(session: Any) -> list[DomainEvent]:
        events.extend(await read_back(session))
        return events

    for _ in range(HOT):
        await client.get(comments(s), headers=s.viewer.headers)
    monkeypatch.setattr(transaction_events, "of_current_transaction", recording)
    await write_comment(client, s, "kept")
    await settled(app)
    await apply_batch(events, EntryStore(redis, app_keyspace), now_ms())  # the invalidator
    after = await client.get(comments(s), headers=s.viewer.headers)
    assert after.headers["x-cache"] == "HIT"
    assert "kept" in [c["body"] for c in after.json()["items"]]
