"""Redis trouble is not your trouble (README, "Consistency guarantees, in plain words"): Redis
slow or down never fails a read, and never makes a request wait; a write that cannot fence the
cache answers 503 at once and changes nothing (README, "The fenced cache protocol"), and a write
whose clear is lost leaves its fence up until it expires.

Each test runs its own app (its own breaker) on a private `redis-server` that it kills,
pauses (`CLIENT PAUSE`: slow, data kept) or freezes (SIGSTOP: hung, data kept), over HTTP.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError

from collabcache_api.main import create_app
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.settings import ApiSettings, CacheSettings, RedisSettings
from tests.integration.builders import Builder, Person, Scene
from tests.integration.cache.redis_server import RedisServer

SOCKET_TIMEOUT = 0.05  # the production default, stated: the premise of "no request waits"
RESET = 0.3  # the breaker's reset period in these apps
BOUND = 1.0  # no request may take longer than this while Redis is dead or hung
FENCE_TIMEOUT = 0.3  # how long a write waits to fence the cache before its 503
FENCE_S = 1.0
FENCE_WINDOW = 1  # whole seconds of FENCE_S: how long a new server grants no lease
# A CLIENT PAUSE cannot be lifted early (see `RedisServer.pause`): long enough for the work
# done during the outage, which each test checks was done before the pause ended.
PAUSE_MS = 2500


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def cache(self) -> CacheManager:
        cache: CacheManager | None = self.app.state.container.cache
        assert cache is not None
        return cache

    async def call(
        self, method: str, path: str, who: Person, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        """One request, which must answer within `BOUND` and without a 5xx (but a write's
        clear 503: the cache could not be fenced)."""
        started = time.perf_counter()
        response = await self.http.request(method, path, headers=who.headers, json=body)
        elapsed = time.perf_counter() - started
        assert elapsed < BOUND, f"{method} {path} took {elapsed:.3f}s"
        if response.status_code == 503 and method != "GET":
            assert response.headers["retry-after"] == "1"
            assert "nothing was changed" in response.json()["detail"]
        else:
            assert response.status_code < 500, response.text
        return response

    async def get(self, path: str, who: Person) -> httpx.Response:
        response = await self.call("GET", path, who)
        assert response.status_code == 200, response.text
        return response


@pytest.fixture
async def server(private_redis: RedisServer) -> AsyncIterator[RedisServer]:
    """The private server, running and answering at the start and at the end of each test."""
    if private_redis.process is None:
        private_redis.start()
        private_redis.wait_for_uptime(FENCE_WINDOW)
    try:
        yield private_redis
    finally:
        if private_redis.process is None:
            private_redis.start()
            private_redis.wait_for_uptime(FENCE_WINDOW)
        else:
            private_redis.thaw()
            await asyncio.sleep(private_redis.pause_remaining())
            private_redis.resume()


@pytest.fixture
async def api(
    api_settings: ApiSettings, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    # The outbox relay is not under test here, and its shutdown can hang after a Redis
    # outage (a cancellation lost inside a publish; reported), which would hang the teardown.
    monkeypatch.setenv("OUTBOX_RELAY_ENABLED", "false")
    app = create_app(
        api_settings,
        RedisSettings(
            url=server.url,
            key_prefix=f"ccfail:{uuid.uuid4().hex[:8]}",
            socket_timeout=SOCKET_TIMEOUT,
        ),
        CacheSettings(
            enabled=True,
            invalidate_inline=True,
            breaker_reset_seconds=RESET,
            fence_timeout_seconds=FENCE_TIMEOUT,
            fence_seconds=FENCE_S,
            fence_commit_margin_seconds=0.2,
        ),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(app, http)


def reads(s: Scene) -> list[str]:
    """Cached GETs of several families, the serve-stale analytics among them."""
    return [
        "/api/organizations",
        f"/api/organizations/{s.org_id}/members",
        f"/api/organizations/{s.org_id}/analytics",
        f"/api/collaboration/studies/{s.study_id}/comments",
    ]


def org_names(response: httpx.Response) -> list[str]:
    return [item["name"] for item in response.json()["items"]]


def comment_bodies(response: httpx.Response) -> list[str]:
    return [item["body"] for item in response.json()["items"]]


async def warm(api: Api, s: Scene) -> None:
    """Every read once to fill the cache, then served from it: the cache works before."""
    for path in reads(s):
        await api.get(path, s.owner)
    for path in reads(s):
        assert (await api.get(path, s.owner)).headers["x-cache"] == "HIT", path


async def assert_outage_is_invisible(api: Api, s: Scene) -> None:
    """During the outage: every read answers from the database (BYPASS); writes answer 503
    and change nothing (they could not fence the cache); every request within `BOUND`."""
    for _ in range(3):  # the first calls find out (timeouts), the rest skip Redis
        for path in reads(s):
            assert (await api.get(path, s.owner)).headers["x-cache"] == "BYPASS", path
    name = f"Renamed {uuid.uuid4().hex[:6]}"
    org = f"/api/organizations/{s.org_id}"
    before = org_names(await api.get("/api/organizations", s.owner))
    renamed = await api.call("PATCH", org, s.owner, {"name": name})
    assert renamed.status_code == 503, renamed.text
    comments = f"/api/collaboration/studies/{s.study_id}/comments"
    text = f"written while Redis was away {uuid.uuid4().hex[:6]}"
    posted = await api.call("POST", comments, s.editor, {"body": text})
    assert posted.status_code == 503, posted.text
    listed = await api.get("/api/organizations", s.owner)
    assert (listed.headers["x-cache"], org_names(listed)) == ("BYPASS", before)
    assert text not in comment_bodies(await api.get(comments, s.owner))
    assert api.cache.stats()["breaker"] == "open"


async def test_dead_redis_never_fails_or_holds_a_request(
    api: Api, server: RedisServer, build: Builder
) -> None:
    s = await build.scene()
    await warm(api, s)
    server.kill()
    await assert_outage_is_invisible(api, s)


@pytest.mark.parametrize("outage", ["pause", "freeze"])
async def test_hung_redis_never_fails_or_holds_a_request(
    api: Api, server: RedisServer, build: Builder, outage: str
) -> None:
    """Slow Redis: connections open, commands never answered (CLIENT PAUSE, or SIGSTOP)."""
    s = await build.scene()
    await warm(api, s)
    begin_outage(server, outage)
    await assert_outage_is_invisible(api, s)
    await end_outage(server, outage)


def begin_outage(server: RedisServer, outage: str) -> None:
    if outage == "pause":
        server.pause(PAUSE_MS)
    else:
        server.freeze()


async def end_outage(server: RedisServer, outage: str) -> None:
    """Bring Redis back, after checking the outage lasted through everything before."""
    if outage == "pause":
        assert server.pause_remaining() > 0, "the pause ended before the outage's work did"
        await asyncio.sleep(server.pause_remaining())
        server.resume()
    else:
        server.thaw()


async def reads_after_a_lost_clear(
    api: Api, s: Scene, monkeypatch: pytest.MonkeyPatch, *, fenced: bool = True
) -> list[tuple[str, list[str]]]:
    """Cache the owner's organization list, rename the organization while Redis refuses the
    write's clear (it is lost, whatever the retries), read the list at once and after the
    fence's expiry. `fenced=False` is the control: the write placed no fence."""
    path = "/api/organizations"
    await api.get(path, s.owner)
    assert (await api.get(path, s.owner)).headers["x-cache"] == "HIT"
    store = api.cache.store

    async def lost(*_: object) -> int:
        raise RedisConnectionError("Redis is away")

    async def no_fence(*_: object) -> int:
        return 0

    monkeypatch.setattr(store, "clear", lost)
    if not fenced:
        monkeypatch.setattr(store, "fence", no_fence)
    new = f"Renamed {uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    response = await api.http.patch(
        f"/api/organizations/{s.org_id}", headers=s.owner.headers, json={"name": new}
    )
    assert response.status_code == 200, response.text
    assert time.perf_counter() - started < FENCE_S + BOUND  # retried until the fence expired
    reads = [await api.get(path, s.owner)]
    await asyncio.sleep(FENCE_S)
    reads += [await api.get(path, s.owner) for _ in range(2)]
    return [(r.headers["x-cache"], org_names(r)) for r in reads]


async def test_a_lost_clear_never_serves_the_old_entry(
    api: Api, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await build.scene()
    reads = await reads_after_a_lost_clear(api, s, monkeypatch)
    fresh = reads[0][1]
    assert reads == [("MISS", fresh), ("MISS", fresh), ("HIT", fresh)]
    assert fresh[0].startswith("Renamed")
    assert api.cache.fences.counters["clear_lost"] == 1
    assert api.cache.stats()["breaker"] == "closed"


async def test_negative_control_without_the_fence_the_stale_page_would_be_served(
    api: Api, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scenario with the fence made a no-op: the page cached before the rename comes
    back as a HIT. This is what the fence prevents, and the proof the clear really was lost."""
    s = await build.scene()
    reads = await reads_after_a_lost_clear(api, s, monkeypatch, fenced=False)
    assert reads[0][0] == "HIT" and not reads[0][1][0].startswith("Renamed")


async def test_redis_restarted_empty_is_used_again(
    api: Api, server: RedisServer, build: Builder
) -> None:
    s = await build.scene()
    await warm(api, s)
    server.kill()
    for path in reads(s):
        assert (await api.get(path, s.owner)).headers["x-cache"] == "BYPASS"
    server.start()  # same port, no data
    server.wait_for_uptime(FENCE_WINDOW)  # a new server grants no lease before
    await asyncio.sleep(RESET * 1.5)
    assert await outcomes(api, s) == ["MISS"] * len(reads(s))
    assert await outcomes(api, s) == ["HIT"] * len(reads(s))


async def test_redis_restarted_between_requests_costs_nothing(
    api: Api, server: RedisServer, build: Builder
) -> None:
    """A restart no request saw: the pooled connections are dead, and the client's one retry
    reconnects; not a single BYPASS, the entries are simply gone."""
    s = await build.scene()
    await warm(api, s)
    server.restart()
    server.wait_for_uptime(FENCE_WINDOW)  # a new server grants no lease before
    assert await outcomes(api, s) == ["MISS"] * len(reads(s))
    assert await outcomes(api, s) == ["HIT"] * len(reads(s))
    assert api.cache.stats()["breaker"] == "closed"


async def outcomes(api: Api, s: Scene) -> list[str]:
    return [(await api.get(path, s.owner)).headers["x-cache"] for path in reads(s)]
