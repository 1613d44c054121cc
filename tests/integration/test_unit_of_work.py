"""A request's unit of work on the real database (ARCHITECTURE.md, "The write path"): the
before-commit step sees the transaction's own events while the change is still invisible to
every other connection, the after-commit step runs once it is visible, and a before-commit
step that fails leaves nothing behind. The cache protocol is replaced by one that looks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from collabcache_api import unit_of_work
from collabcache_api.unit_of_work import AfterCommit, request_transaction
from collabcache_shared.events import DomainEvent
from tests.integration.builders import Builder

RENAME = text("UPDATE organizations SET name = :name WHERE id = :id")
NAME_OF = "SELECT name FROM organizations WHERE id = $1"


class Looking:
    """A cache protocol that reads the organization's name from another connection at each
    step: what a concurrent reader filling the cache would see then."""

    def __init__(self, db: asyncpg.Pool, org_id: uuid.UUID, *, fail: bool = False) -> None:
        self.db, self.org_id, self.fail = db, org_id, fail
        self.seen: list[tuple[str, Any]] = []
        self.events: list[DomainEvent] = []

    async def _look(self, step: str) -> None:
        self.seen.append((step, await self.db.fetchval(NAME_OF, self.org_id)))

    async def before_commit(self, events: Sequence[DomainEvent]) -> AfterCommit:
        self.events = list(events)
        await self._look("before commit")
        if self.fail:
            raise RuntimeError("no fence")
        return self

    def check_may_commit(self) -> None:
        return None

    async def after_commit(self, committed: bool) -> None:
        await self._look("after commit")


@pytest.fixture
def protocol(monkeypatch: pytest.MonkeyPatch) -> dict[str, Looking]:
    """Whatever the test puts under "use" is the protocol request_transaction plugs in."""
    chosen: dict[str, Looking] = {}
    monkeypatch.setattr(unit_of_work, "fenced_cache", lambda container: chosen.get("use"))
    return chosen


async def looked_at(
    build: Builder, db: asyncpg.Pool, protocol: dict[str, Looking], name: str, *, fail: bool = False
) -> tuple[uuid.UUID, Looking]:
    """A new organization called `name`, and the protocol looking at it, plugged in."""
    org_id = await build.org(await build.user("owner"), name=name)
    protocol["use"] = looking = Looking(db, org_id, fail=fail)
    return org_id, looking


async def rename(app: Any, org_id: uuid.UUID, name: str) -> None:
    container = app.state.container
    async with request_transaction(container, writes=True) as session:
        await session.execute(RENAME, {"name": name, "id": org_id})


async def test_before_commit_sees_its_own_events_uncommitted_after_commit_sees_them_committed(
    app: Any, build: Builder, db: asyncpg.Pool, protocol: dict[str, Looking]
) -> None:
    org_id, looking = await looked_at(build, db, protocol, "Before")
    await rename(app, org_id, "After")
    assert looking.seen == [("before commit", "Before"), ("after commit", "After")]
    assert [(e.type, e.payload.organization_id) for e in looking.events] == [  # type: ignore[union-attr]
        ("organization.changed.v1", org_id)
    ]


async def test_a_failed_before_commit_step_leaves_the_database_unchanged(
    app: Any, build: Builder, db: asyncpg.Pool, protocol: dict[str, Looking]
) -> None:
    org_id, looking = await looked_at(build, db, protocol, "Kept", fail=True)
    with pytest.raises(RuntimeError, match="no fence"):
        await rename(app, org_id, "Lost")
    assert looking.seen == [("before commit", "Kept")]
    assert await db.fetchval(NAME_OF, org_id) == "Kept"


async def test_a_read_commits_through_no_cache_protocol(
    app: Any, build: Builder, db: asyncpg.Pool, protocol: dict[str, Looking]
) -> None:
    org_id, looking = await looked_at(build, db, protocol, "Read")
    async with request_transaction(app.state.container, writes=False) as session:
        name = text("SELECT name FROM organizations WHERE id = :id")
        assert (await session.execute(name, {"id": org_id})).scalar() == "Read"
    assert looking.seen == [] and looking.events == []
