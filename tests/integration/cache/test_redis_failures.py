"""Property 5: Redis slow or down never fails a request, and never makes one wait; after Redis
returns, no entry that missed an invalidation during the outage is ever served.

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

from collabcache_api.main import create_app
from collabcache_shared.cache.keys import CacheKey, Family
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.settings import ApiSettings, CacheSettings, RedisSettings
from tests.integration.builders import Builder, Person, Scene
from tests.integration.cache.redis_server import RedisServer

SOCKET_TIMEOUT = 0.05  # the production default, stated: the premise of "no request waits"
RESET = 0.3  # the breaker's reset period in these apps
BOUND = 1.0  # no request may take longer than this while Redis is dead or hung
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
        """One request, which must answer within `BOUND` and without a 5xx."""
        started = time.perf_counter()
        response = await self.http.request(method, path, headers=who.headers, json=body)
        elapsed = time.perf_counter() - started
        assert elapsed < BOUND, f"{method} {path} took {elapsed:.3f}s"
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
    try:
        yield private_redis
    finally:
        if private_redis.process is None:
            private_redis.start()
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
        CacheSettings(enabled=True, invalidate_inline=True, breaker_reset_seconds=RESET),
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
    """During the outage: every read answers from the database (BYPASS), writes succeed and
    reads show them at once; every request within `BOUND`."""
    for _ in range(3):  # the first calls find out (timeouts), the rest skip Redis
        for path in reads(s):
            assert (await api.get(path, s.owner)).headers["x-cache"] == "BYPASS", path
    name = f"Renamed {uuid.uuid4().hex[:6]}"
    org = f"/api/organizations/{s.org_id}"
    renamed = await api.call("PATCH", org, s.owner, {"name": name})
    assert renamed.status_code == 200, renamed.text
    comments = f"/api/collaboration/studies/{s.study_id}/comments"
    text = f"written while Redis was away {uuid.uuid4().hex[:6]}"
    posted = await api.call("POST", comments, s.editor, {"body": text})
    assert posted.status_code == 201, posted.text
    listed = await api.get("/api/organizations", s.owner)
    assert (listed.headers["x-cache"], org_names(listed)) == ("BYPASS", [name])
    assert text in comment_bodies(await api.get(comments, s.owner))
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


def stored_bodies(api: Api, server: RedisServer, user: uuid.UUID) -> list[bytes]:
    """The raw cached pages of a user's organization list, read behind the app's back."""
    container = api.app.state.container
    name = container.keyspace.entry(CacheKey.of(Family.USER_ORGANIZATIONS, user))
    with server.admin() as admin:
        fields = admin.hgetall(name)
    return [value for field, value in fields.items() if field.startswith(b"d:")]


@dataclass(frozen=True)
class AfterTheOutage:
    old: str  # the organization's name when its list was cached
    new: str  # its name after the rename whose invalidation was lost
    reads: list[tuple[str, list[str]]]  # (X-Cache, names) of the two reads once Redis is back


async def reads_after_a_missed_invalidation(
    api: Api, server: RedisServer, s: Scene
) -> AfterTheOutage:
    """Cache the owner's organization list, pause Redis (its data kept), rename the
    organization (its invalidation cannot reach Redis), let Redis answer again, wait out the
    breaker, read the list twice. With CLIENT PAUSE the client gives up on the UNLINK and
    closes the connection, so the server drops it: the invalidation is lost. (A frozen server
    is no such case: the kernel keeps the bytes and the UNLINK runs on SIGCONT, late.)"""
    path = "/api/organizations"
    first = await api.get(path, s.owner)
    cached = await api.get(path, s.owner)
    [old] = org_names(first)
    assert cached.headers["x-cache"] == "HIT" and org_names(cached) == [old]

    begin_outage(server, "pause")
    new = f"Renamed {uuid.uuid4().hex[:6]}"
    renamed = await api.call("PATCH", f"/api/organizations/{s.org_id}", s.owner, {"name": new})
    assert renamed.status_code == 200, renamed.text
    assert api.cache.counters["invalidation_failed"] > 0
    during = await api.get(path, s.owner)
    assert (during.headers["x-cache"], org_names(during)) == ("BYPASS", [new])
    await end_outage(server, "pause")

    # The precondition that makes this test mean something: the invalidation really was
    # lost, and the old page is still in Redis, with the server back and answering.
    bodies = stored_bodies(api, server, s.owner.id)
    assert bodies and all(old.encode() in body for body in bodies)

    await asyncio.sleep(RESET * 1.5)
    after = [await api.get(path, s.owner) for _ in range(2)]
    return AfterTheOutage(old, new, [(r.headers["x-cache"], org_names(r)) for r in after])


async def test_no_entry_that_missed_an_invalidation_is_served_after_redis_returns(
    api: Api, server: RedisServer, build: Builder
) -> None:
    outage = await reads_after_a_missed_invalidation(api, server, await build.scene())
    fresh = [outage.new]
    assert outage.reads == [("MISS", fresh), ("HIT", fresh)]  # fresh, and cached again
    assert api.cache.stats()["breaker"] == "closed"


async def test_negative_control_without_recovery_the_stale_page_would_be_served(
    api: Api, server: RedisServer, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scenario above with the recovery step (retire every family) made a no-op: the page
    cached before the rename comes back as a HIT. This is what the recovery prevents, and the
    proof that the scenario really loses an invalidation."""

    async def no_retirement() -> None:
        return None

    monkeypatch.setattr(api.cache.store, "retire_all", no_retirement)
    outage = await reads_after_a_missed_invalidation(api, server, await build.scene())
    assert outage.reads[0] == ("HIT", [outage.old])  # the name before the rename: stale
    assert outage.old != outage.new


async def test_redis_restarted_empty_is_used_again(
    api: Api, server: RedisServer, build: Builder
) -> None:
    s = await build.scene()
    await warm(api, s)
    server.kill()
    for path in reads(s):
        assert (await api.get(path, s.owner)).headers["x-cache"] == "BYPASS"
    server.start()  # same port, no data
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
    assert await outcomes(api, s) == ["MISS"] * len(reads(s))
    assert await outcomes(api, s) == ["HIT"] * len(reads(s))
    assert api.cache.stats()["breaker"] == "closed"


async def outcomes(api: Api, s: Scene) -> list[str]:
    return [(await api.get(path, s.owner)).headers["x-cache"] for path in reads(s)]
