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

from collabcache_shared.cache.entry import DATA, FENCE_COUNT
from collabcache_shared.cache.fences import Fence, Fences
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
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

    async def late(self: Fences, keys: Any) -> Fence | None:
        fence = await place(self, keys)
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
    assert not await redis.exists(entry)  # cleared before the response
    assert names(await client.get(MINE, headers=s.owner.headers)) == [name]
