"""A write's fence over HTTP (README, "The fenced cache protocol"): it goes up before the
commit, comes down after, and a write that cannot honour it changes nothing (503)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from collabcache_api import transaction_events
from collabcache_invalidator.handlers import apply_batch
from collabcache_shared.cache.entry import CERTIFIED, DATA, FENCE_COUNT
from collabcache_shared.cache.fences import Fence, Fences
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.store import EntryStore
from collabcache_shared.clock import now_ms
from collabcache_shared.events import DomainEvent
from tests.integration.builders import Builder

MINE = "/api/organizations"


def names(response: httpx.Response) -> list[str]:
    return [item["name"] for item in response.json()["items"]]


async def test_a_write_past_its_commit_deadline_is_rolled_back_with_a_503(
    client: httpx.AsyncClient, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fence whose commit deadline has passed by the time the transaction would commit (the
    write was that slow): its fence may already be gone, so the write must not commit."""
    s = await build.scene()
    before = names(await client.get(MINE, headers=s.owner.headers))
    place = Fences.place

    async def late(self: Fences, *args: Any) -> Fence | None:
        fence = await place(self, *args)
        assert fence is not None
        return dataclasses.replace(fence, commit_by=time.monotonic() - 0.001)

    monkeypatch.setattr(Fences, "place", late)
    renamed = await client.patch(
        f"/api/organizations/{s.org_id}", headers=s.owner.headers, json={"name": "Too late"}
    )
    assert (renamed.status_code, renamed.headers.get("retry-after")) == (503, "1"), renamed.text
    monkeypatch.undo()
    assert names(await client.get(MINE, headers=s.owner.headers)) == before


async def test_the_fence_is_up_during_the_commit_and_down_after_the_response(
    client: httpx.AsyncClient,
    build: Builder,
    redis: Redis,
    app_keyspace: KeySpace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = await build.scene()
    await client.get(MINE, headers=s.owner.headers)
    entry = app_keyspace.entry(CacheKey.of(Family.USER_ORGANIZATIONS, s.owner.id))
    assert await redis.hlen(entry) > 0  # cached
    seen: dict[str, Any] = {}
    clear = Fences.clear

    async def looking(self: Fences, fence: Fence) -> bool:  # the commit is done by now
        seen["fields"] = await redis.hkeys(entry)
        return await clear(self, fence)

    monkeypatch.setattr(Fences, "clear", looking)
    name = f"Renamed {uuid.uuid4().hex[:6]}"
    renamed = await client.patch(
        f"/api/organizations/{s.org_id}", headers=s.owner.headers, json={"name": name}
    )
    assert renamed.status_code == 200, renamed.text
    fields = {f.decode() for f in seen["fields"]}
    assert FENCE_COUNT in fields and not any(f.startswith(DATA) for f in fields)  # fenced, no value
    left = {f.decode() if isinstance(f, bytes) else f for f in await redis.hkeys(entry)}
    assert left and all(f.startswith(CERTIFIED) for f in left)  # cleared: certified only
    assert names(await client.get(MINE, headers=s.owner.headers)) == [name]


async def test_the_invalidators_drop_of_a_writes_events_spares_what_was_filled_after_it(
    client: httpx.AsyncClient,
    build: Builder,
    redis: Redis,
    app_keyspace: KeySpace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The write's clear certifies its entries for its outbox events, so the invalidator's
    drop of those very events (a few milliseconds later) keeps the value read since."""
    s = await build.scene()
    await client.get(MINE, headers=s.owner.headers)
    mine: list[DomainEvent] = []
    read_back = transaction_events.of_current_transaction

    async def recording(session: Any) -> list[DomainEvent]:
        mine.extend(await read_back(session))  # the events the relay publishes, as they are
        return mine

    monkeypatch.setattr(transaction_events, "of_current_transaction", recording)
    name = f"Renamed {uuid.uuid4().hex[:6]}"
    renamed = await client.patch(
        f"/api/organizations/{s.org_id}", headers=s.owner.headers, json={"name": name}
    )
    assert renamed.status_code == 200, renamed.text
    assert (await client.get(MINE, headers=s.owner.headers)).headers["x-cache"] == "MISS"
    assert [e.type for e in mine] == ["organization.changed.v1"]
    store = EntryStore(redis, app_keyspace)
    await apply_batch(mine, store, now_ms())
    kept = await client.get(MINE, headers=s.owner.headers)
    assert (kept.headers["x-cache"], names(kept)) == ("HIT", [name])
    await apply_batch(mine, store, now_ms())  # delivered again: the certificates are used up
    assert (await client.get(MINE, headers=s.owner.headers)).headers["x-cache"] == "MISS"
