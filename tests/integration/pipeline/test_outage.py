"""Redis down for a while: writes keep succeeding, their events wait in the outbox, and after
Redis returns every one of them is delivered and applied.

The pipeline runs on a private `redis-server` that persists every write (append-only file,
fsync always), so killing it and starting it again keeps the cache entries, the stream and the
consumer group: the entries affected by the writes are then gone (or marked stale) because the
invalidator applied the events, not because a restart emptied the cache; entries no write
touched are still there to show it. The API's own inline invalidation fails during the outage,
so for its writes too only the pipeline can drop the entries.

A Redis without persistence (as a cache usually runs) comes back empty, without the stream and
the consumer group: the invalidator must recreate the group and go on consuming.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from collabcache_shared.cache.entry import STALE_SINCE
from tests.integration.builders import Person, Scene
from tests.integration.cache.redis_server import RedisServer, temp_directory
from tests.integration.cache_http.endpoints import BY_ROUTE
from tests.integration.cache_http.writes import (
    COMMENTS,
    MEMBERS,
    MINE,
    ORG,
    ORG_ANALYTICS,
    STATS,
    TEAM_ANALYTICS,
    TEAM_MEMBERS,
    TEAMS,
)
from tests.integration.pipeline.conftest import MakePipeline
from tests.integration.pipeline.stack import Pipeline, eventually

PERSISTENT = ("--appendonly", "yes", "--appendfsync", "always")
OUTAGE_S = 1.5  # several failed relay rounds (it retries every 0.2 s at most)
# Redis back -> every event applied. Under this bound only because the invalidator restarts its
# subscriber once Redis answers: FastStream's sleeps 5 s after a failed read.
RECOVERY_BOUND_S = 2.0
EDITED, POSTED, RENAMED = "edited while down", "posted while down", "Renamed while down"


@pytest.fixture
def persistent_redis() -> Iterator[RedisServer]:
    server = RedisServer(temp_directory("pipeline-outage"), extra=PERSISTENT)
    try:
        server.start()
        server.wait_for_uptime()
        yield server
    finally:
        server.stop()


@pytest.fixture
def plain_redis() -> Iterator[RedisServer]:
    """Persistence off, as a cache's Redis usually runs: a restart loses everything."""
    server = RedisServer(temp_directory("pipeline-empty"))
    try:
        server.start()
        server.wait_for_uptime()
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Warm:
    route: str
    who: str
    scene: Scene
    expect: str  # after recovery: "gone", "stale" (analytics) or "kept" (no write touched it)

    def person(self) -> Person:
        person: Person = getattr(self.scene, self.who)
        return person

    def redis_key(self, p: Pipeline) -> str:
        return p.keyspace.entry(BY_ROUTE[self.route].key(self.scene, self.person()))


def _warmed(s: Scene, control: Scene) -> list[Warm]:
    return [
        Warm(COMMENTS, "viewer", s, "gone"),  # the comment edited and the one posted
        Warm(TEAMS, "owner", s, "gone"),  # a team member added
        Warm(TEAM_MEMBERS, "owner", s, "gone"),
        Warm(MINE, "owner", s, "kept"),  # the rename through the API was refused (503)
        Warm(MINE, "member", s, "kept"),
        Warm(STATS, "platform_admin", s, "gone"),  # every change
        Warm(ORG_ANALYTICS, "owner", s, "stale"),
        Warm(TEAM_ANALYTICS, "owner", s, "stale"),
        Warm(MEMBERS, "owner", control, "kept"),
        Warm(COMMENTS, "viewer", control, "kept"),
        Warm(ORG_ANALYTICS, "owner", control, "kept"),
    ]


async def _warm(p: Pipeline, w: Warm) -> None:
    path, headers = BY_ROUTE[w.route].path(w.scene), w.person().headers
    assert (await p.client.get(path, headers=headers)).status_code == 200
    hit = await p.client.get(path, headers=headers)
    assert (hit.status_code, hit.headers["x-cache"]) == (200, "HIT"), (w, hit.text)


async def _state(p: Pipeline, w: Warm) -> str:
    """What the entry is now: "gone", "stale" (marked), or "kept" (there, valid)."""
    key = w.redis_key(p)
    if not await p.redis.exists(key):
        return "gone"
    return "stale" if await p.redis.hexists(key, STALE_SINCE) else "kept"


async def _write_while_down(p: Pipeline, s: Scene) -> list[str]:
    """Two changes by SQL, which succeed, and two through the API, which answer 503 and change
    nothing (they cannot fence the cache: README, "The fenced cache protocol"). The SQL
    changes' event ids."""

    async def edit(conn: asyncpg.Connection, _: object) -> None:
        await conn.execute("UPDATE comments SET body = $2 WHERE id = $1", s.comment_id, EDITED)

    async def join_team(conn: asyncpg.Connection, _: object) -> None:
        await conn.execute(
            "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)", s.team_id, s.viewer.id
        )

    ids = []
    for change in (edit, join_team):
        events, _ = await p.change(change, None)
        ids += [str(e.id) for e in events]
    path = ORG.format(org_id=s.org_id)
    renamed = await p.client.patch(path, json={"name": RENAMED}, headers=s.owner.headers)
    assert (renamed.status_code, renamed.headers.get("retry-after")) == (503, "1"), renamed.text
    path = COMMENTS.format(study_id=s.study_id)
    posted = await p.client.post(path, json={"body": POSTED}, headers=s.editor.headers)
    assert posted.status_code == 503, posted.text
    return ids


async def _reads_show_the_writes(p: Pipeline, s: Scene) -> bool:
    comments = await p.client.get(COMMENTS.format(study_id=s.study_id), headers=s.viewer.headers)
    mine = await p.client.get(MINE, headers=s.owner.headers)
    team = await p.client.get(TEAM_MEMBERS.format(team_id=s.team_id), headers=s.owner.headers)
    if {comments.status_code, mine.status_code, team.status_code} != {200}:
        return False
    bodies = {c["body"] for c in comments.json()["items"]}
    names = {o["name"] for o in mine.json()["items"] if o["id"] == str(s.org_id)}
    members = {m["user_id"] for m in team.json()["items"]}
    written = EDITED in bodies and str(s.viewer.id) in members
    return written and POSTED not in bodies and RENAMED not in names and len(names) == 1


async def test_events_of_writes_made_while_redis_is_down_are_all_applied_after_it_returns(
    make_pipeline: MakePipeline, persistent_redis: RedisServer
) -> None:
    p = await make_pipeline(invalidator=True, redis_url=persistent_redis.url)
    s, control = await p.build.scene(), await p.build.scene()
    await p.settle()
    warmed = _warmed(s, control)
    for w in warmed:
        await _warm(p, w)
    assert {await _state(p, w) for w in warmed} == {"kept"}
    mark, processed, published = await p.stream_mark(), p.processed(), p.relay.published
    stream_length = await p.redis.xlen(p.stream)

    persistent_redis.kill()
    sql_event_ids = await _write_while_down(p, s)
    waiting = await p.outbox_event_ids()
    assert set(sql_event_ids) == set(waiting) and len(waiting) >= 2  # none of the refused
    await asyncio.sleep(OUTAGE_S)
    assert await p.outbox_event_ids() == waiting  # nothing lost, nothing sent
    assert p.relay.published == published

    persistent_redis.start()  # same port, same append-only file: the data is back
    back = time.monotonic()
    assert await p.redis.xlen(p.stream) >= stream_length
    await eventually(p.settled, RECOVERY_BOUND_S, "every waiting event applied")
    recovered_s = time.monotonic() - back

    events = await p.events_since(mark)
    assert [str(e.id) for _, e in events] == waiting  # each one, once, in commit order
    assert p.relay.published == published + len(waiting)
    assert p.processed() - processed == Counter(e.type for _, e in events)
    states = {w: await _state(p, w) for w in warmed}
    assert {w: w.expect for w in warmed} == states, f"recovered in {recovered_s:.2f}s"
    # And over HTTP (once the API's breaker lets the cache in again): the writes are visible.
    await eventually(lambda: _reads_show_the_writes(p, s), 5.0, "the writes visible")


async def test_after_redis_restarts_empty_the_invalidator_recreates_its_group_and_goes_on(
    make_pipeline: MakePipeline, plain_redis: RedisServer
) -> None:
    """The restart takes the stream and the consumer group with it: FastStream's subscriber
    stops for good on NOGROUP; the invalidator must recreate the group and read again."""
    p = await make_pipeline(invalidator=True, redis_url=plain_redis.url)
    s = await p.build.scene()
    await p.settle()
    plain_redis.restart()
    comments = Warm(COMMENTS, "viewer", s, "gone")

    async def cached() -> bool:  # once the API's Redis client has reconnected
        response = await p.client.get(
            COMMENTS.format(study_id=s.study_id), headers=s.viewer.headers
        )
        return bool(response.headers.get("x-cache") == "HIT")

    await eventually(cached, 5.0, "the comments cached again")
    assert await _state(p, comments) == "kept"

    async def edit(conn: asyncpg.Connection, _: object) -> None:
        await conn.execute("UPDATE comments SET body = $2 WHERE id = $1", s.comment_id, EDITED)

    events, _ = await p.change(edit, None)
    gone = await eventually(
        lambda: _is_gone(p, comments), RECOVERY_BOUND_S, "the entry dropped after the restart"
    )
    await p.settle()
    assert p.invalidator.subscriber.running, f"gone after {gone:.2f}s"
    assert [e.id for _, e in await p.events_since("0-0")] == [e.id for e in events]


async def _is_gone(p: Pipeline, w: Warm) -> bool:
    return await _state(p, w) == "gone"
