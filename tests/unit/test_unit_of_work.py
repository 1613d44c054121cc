"""The unit of work's order (ARCHITECTURE.md, "The write path"): collect the transaction's
events → before commit → commit → after commit, and what each failure leaves undone. A fake
session and a fake cache protocol write into one log, so the order is read off it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from collabcache_api.unit_of_work import (
    NOTHING_AFTER,
    AfterCommit,
    ClearFence,
    DropAfterCommit,
    FencedCache,
    UnitOfWork,
)
from collabcache_shared.cache.errors import FenceExpired, FenceUnavailable
from collabcache_shared.cache.fences import Fence
from collabcache_shared.cache.keys import CacheKey, Family
from collabcache_shared.events import DomainEvent, OrganizationChanged
from collabcache_shared.invalidation import keys_for_events

ORG = uuid.uuid4()
RENAMED = DomainEvent(payload=OrganizationChanged(organization_id=ORG, change="renamed"))


class Boom(Exception):
    pass


class FakeSession:
    """What the unit of work asks of an `AsyncSession`, logged."""

    def __init__(self, log: list[str], *, commit_fails: bool = False) -> None:
        self.log = log
        self.open = True
        self.commit_fails = commit_fails

    def in_transaction(self) -> bool:
        return self.open

    async def scalars(self, statement: Any) -> list[str]:
        self.log.append("collect events")
        return [RENAMED.model_dump_json()]

    async def commit(self) -> None:
        self.log.append("commit")
        if self.commit_fails:
            raise Boom("commit")
        self.open = False

    async def rollback(self) -> None:
        self.log.append("rollback")
        self.open = False


class Steps:
    """A cache protocol that logs each step; `fail` names the step that raises."""

    def __init__(self, log: list[str], fail: str | None = None) -> None:
        self.log, self.fail, self.events = log, fail, list[DomainEvent]()

    def _step(self, name: str) -> None:
        self.log.append(name)
        if name == self.fail:
            raise Boom(name)

    async def before_commit(self, events: Sequence[DomainEvent]) -> AfterCommit:
        self.events = list(events)
        self._step("fence")
        return self

    def check_may_commit(self) -> None:
        self._step("check deadline")

    async def after_commit(self, committed: bool) -> None:
        self._step("clear" if committed else "clear, certifying nothing")


async def write(log: list[str], steps: Steps | None, **session: bool) -> None:
    async with UnitOfWork(FakeSession(log, **session), steps) as uow:  # type: ignore[arg-type]
        log.append("handler")
        await uow.commit()


async def test_a_write_fences_commits_then_clears_with_its_own_events() -> None:
    log: list[str] = []
    steps = Steps(log)
    await write(log, steps)
    assert log == ["handler", "collect events", "fence", "check deadline", "commit", "clear"]
    assert steps.events == [RENAMED]


async def test_a_failed_before_commit_step_means_no_commit_and_nothing_to_clear() -> None:
    log: list[str] = []
    with pytest.raises(Boom, match="fence"):
        await write(log, Steps(log, fail="fence"))
    assert log == ["handler", "collect events", "fence", "rollback"]


async def test_a_write_past_its_deadline_rolls_back_and_still_clears_its_fence() -> None:
    log: list[str] = []
    with pytest.raises(Boom, match="check deadline"):
        await write(log, Steps(log, fail="check deadline"))
    assert log == [
        "handler", "collect events", "fence", "check deadline", "clear, certifying nothing",
        "rollback",
    ]  # fmt: skip


async def test_a_failed_commit_still_clears_since_it_may_have_committed() -> None:
    """...but certifies nothing: the commit may become visible after the clear, and a value
    read meanwhile must not be spared by the invalidator's drop."""
    log: list[str] = []
    with pytest.raises(Boom, match="commit"):
        await write(log, Steps(log), commit_fails=True)
    tried = ["handler", "collect events", "fence", "check deadline", "commit"]
    assert log == [*tried, "clear, certifying nothing", "rollback"]


async def test_a_handler_error_rolls_back_before_any_step() -> None:
    log: list[str] = []
    with pytest.raises(Boom, match="handler"):
        async with UnitOfWork(FakeSession(log), Steps(log)):  # type: ignore[arg-type]
            raise Boom("handler")
    assert log == ["rollback"]


async def test_without_a_protocol_it_commits_without_reading_events() -> None:
    log: list[str] = []
    await write(log, None)
    assert log == ["handler", "commit"]


async def test_a_transaction_already_over_is_not_committed_again() -> None:
    log: list[str] = []
    session = FakeSession(log)
    session.open = False
    await UnitOfWork(session, Steps(log)).commit()  # type: ignore[arg-type]
    assert log == []


class FakeFences:
    def __init__(self, log: list[Any], *, unavailable: bool = False) -> None:
        self.log, self.unavailable = log, unavailable

    async def place(self, keys: Any, certify: Any = None) -> Fence | None:
        keys = set(keys)
        if self.unavailable:
            raise FenceUnavailable
        self.log.append(("place", keys))
        far = time.monotonic() + 60
        return Fence(tuple(sorted(keys, key=str)), "t", 0.0, far, far, certify) if keys else None

    async def clear(self, fence: Fence) -> bool:
        self.log.append(("clear", frozenset(fence.keys), dict(fence.certify)))
        return True


class FakeCache:
    def __init__(self, *, unavailable: bool = False) -> None:
        self.log: list[Any] = []
        self.fences = FakeFences(self.log, unavailable=unavailable)

    async def invalidate(self, keys: Any) -> bool:
        self.log.append(("invalidate", set(keys)))
        return True


async def test_the_cache_protocol_fences_the_keys_its_events_name_and_clears_that_fence() -> None:
    cache = FakeCache()
    after = await FencedCache(cache, fence_required=True).before_commit([RENAMED])  # type: ignore[arg-type]
    keys = keys_for_events([RENAMED])
    assert CacheKey.of(Family.ORGANIZATION_ANALYTICS, ORG) in keys
    assert isinstance(after, ClearFence) and cache.log == [("place", keys)]
    await after.after_commit(True)
    # The clear certifies each entry for the event (the invalidator's drop then spares it).
    certified = {key: [RENAMED.id.hex] for key in keys}
    assert cache.log[-1] == ("clear", frozenset(keys), certified)


async def test_a_commit_that_did_not_return_is_cleared_without_certificates_nor_refresh() -> None:
    cache, refreshed = FakeCache(), list[Any]()
    protocol = FencedCache(cache, fence_required=True, after_clear=refreshed.append)  # type: ignore[arg-type]
    after = await protocol.before_commit([RENAMED])
    await after.after_commit(False)
    assert cache.log[-1] == ("clear", frozenset(keys_for_events([RENAMED])), {})
    assert refreshed == []
    await (await protocol.before_commit([RENAMED])).after_commit(True)
    assert cache.log[-1][2] and len(refreshed) == 1


async def test_a_required_fence_that_cannot_be_placed_stops_the_write() -> None:
    with pytest.raises(FenceUnavailable):
        await FencedCache(FakeCache(unavailable=True), True).before_commit([RENAMED])  # type: ignore[arg-type]


async def test_an_optional_fence_that_cannot_be_placed_drops_the_entries_after_commit() -> None:
    cache = FakeCache(unavailable=True)
    after = await FencedCache(cache, fence_required=False).before_commit([RENAMED])  # type: ignore[arg-type]
    assert isinstance(after, DropAfterCommit) and cache.log == []
    after.check_may_commit()
    await after.after_commit(True)
    assert cache.log == [("invalidate", keys_for_events([RENAMED]))]


async def test_a_write_with_no_events_fences_nothing() -> None:
    cache = FakeCache()
    assert await FencedCache(cache, True).before_commit([]) is NOTHING_AFTER  # type: ignore[arg-type]


def test_a_fence_past_its_commit_deadline_forbids_the_commit() -> None:
    now = time.monotonic()
    late = Fence(keys=(), token="t", placed_at=now - 5, expires_at=now, commit_by=now - 1)
    with pytest.raises(FenceExpired):
        ClearFence(FakeCache(), late).check_may_commit()  # type: ignore[arg-type]
