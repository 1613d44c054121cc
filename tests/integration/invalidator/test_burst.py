"""A burst of 10,000 domain events, handled by one invalidator and by two sharing the group:
every event is applied (counted per event), none is lost, and the rate is reported."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack

import pytest
from faststream.redis import RedisBroker

from collabcache_invalidator.bootstrap import Invalidator, build
from collabcache_shared.cache.client import make_redis
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.store import Certificates, EntryStore
from collabcache_shared.events import DomainEvent, StudyChanged
from collabcache_shared.settings import RedisSettings
from tests.integration.invalidator.support import FAST, eventually, publish, running

BURST = 10_000


class CountingStore:
    """The real entry store, counting the events applied by the study each one is about."""

    def __init__(self, inner: EntryStore, applied: Counter[str]) -> None:
        self.inner = inner
        self.applied = applied

    async def invalidate(
        self, keys: Iterable[CacheKey], now_ms: int, certified: Certificates | None = None
    ) -> int:
        batch = list(keys)
        count = await self.inner.invalidate(batch, now_ms, certified)
        for key in batch:
            if key.family is Family.STUDY_ACTIVITY:
                self.applied[key.ids[0]] += 1
        return count


@pytest.fixture
async def entry_store(
    settings_under: RedisSettings, keyspace: KeySpace
) -> AsyncIterator[EntryStore]:
    redis = make_redis(settings_under.model_copy(update={"socket_timeout": 2.0}))
    yield EntryStore(redis, keyspace)
    await redis.aclose()


@pytest.mark.parametrize("consumers", [1, 2])
async def test_a_burst_is_applied_entirely(
    consumers: int,
    settings_under: RedisSettings,
    entry_store: EntryStore,
    relay: RedisBroker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = uuid.uuid4()
    events = [
        DomainEvent(
            payload=StudyChanged(organization_id=org, study_id=uuid.uuid4(), change="updated")
        )
        for _ in range(BURST)
    ]
    applied: Counter[str] = Counter()
    invalidators = [
        build(
            settings_under, FAST, consumer=f"burst-{i}", store=CountingStore(entry_store, applied)
        )
        for i in range(consumers)
    ]
    await invalidators[0].stream.ensure_group()
    await publish(relay, invalidators[0].names.stream, events)

    async def all_applied() -> bool:
        return len(applied) == BURST

    started = time.monotonic()
    async with AsyncExitStack() as stack:
        for invalidator in invalidators:
            await stack.enter_async_context(running(invalidator))
        await eventually(all_applied, within=120)
        elapsed = time.monotonic() - started
        state = await invalidators[0].stream.group_state()

    expected = {str(e.payload.study_id) for e in events}  # type: ignore[union-attr]
    assert set(applied) == expected  # none missing, nothing else
    assert (state.lag, state.pending) == (0, 0)
    shares = [processed(i) for i in invalidators]
    assert sum(shares) >= BURST
    assert all(share > 0 for share in shares)  # the group shared the work
    with capsys.disabled():
        print(
            f"\n{consumers} invalidator(s): {BURST} events in {elapsed:.2f}s = "
            f"{BURST / elapsed:.0f} events/s (shares {shares}, duplicates {sum(shares) - BURST})"
        )


def processed(invalidator: Invalidator) -> int:
    value = invalidator.metrics.registry.get_sample_value(
        "invalidator_events_processed_total", {"type": "study.changed.v1"}
    )
    return int(value or 0)
