"""The invalidator on a real Redis, fed by a real FastStream publisher as the outbox relay is:
entries are invalidated and messages acknowledged; what cannot be handled is dead-lettered
without blocking what follows; what a crashed consumer read is recovered."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import httpx
from faststream.redis import RedisBroker
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from collabcache_invalidator.bootstrap import build
from collabcache_invalidator.settlement import ABANDONED, FAILED, INVALID
from collabcache_invalidator.streams import EventStream
from collabcache_shared.cache.keys import CacheKey, Family
from collabcache_shared.cache.manager import CacheManager
from collabcache_shared.cache.store import Certificates, Slot
from collabcache_shared.events import (
    CollaborationChanged,
    CommentChanged,
    DomainEvent,
    StudyChanged,
)
from collabcache_shared.invalidation import keys_for_events
from collabcache_shared.settings import RedisSettings
from tests.cache_support import cached_body, store_body
from tests.integration.invalidator.support import FAST, as_json, eventually, publish, running
from tests.integration.streams import entries, read_group


def study_events(n: int, org: uuid.UUID | None = None) -> list[DomainEvent]:
    org = org or uuid.uuid4()
    return [
        DomainEvent(
            payload=StudyChanged(organization_id=org, study_id=uuid.uuid4(), change="updated")
        )
        for _ in range(n)
    ]


async def fill(cache: CacheManager, keys: Iterable[CacheKey]) -> list[Slot]:
    slots = [Slot(key, variant) for key in keys for variant in ("page:1", "page:2")]
    for slot in slots:
        assert await store_body(cache, slot, b"cached")
    return slots


async def settled(stream: EventStream) -> bool:
    """Every entry delivered to the group and acknowledged."""
    state = await stream.group_state()
    return (state.lag, state.pending) == (0, 0)


async def test_events_published_before_the_first_start_invalidate_their_entries(
    settings_under: RedisSettings,
    cache: CacheManager,
    relay: RedisBroker,
    redis: Redis,
) -> None:
    org, study, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        DomainEvent(
            payload=CollaborationChanged(
                organization_id=org, study_id=study, user_id=user, change="added"
            )
        ),
        DomainEvent(
            payload=CommentChanged(
                organization_id=org,
                study_id=study,
                comment_id=uuid.uuid4(),
                author_id=user,
                change="added",
                author_team_ids=[uuid.uuid4()],
            )
        ),
    ]
    affected = keys_for_events(events)
    slots = await fill(cache, affected)
    untouched, _ = await fill(cache, [CacheKey.of(Family.STUDY_COMMENTS, uuid.uuid4())])
    invalidator = build(settings_under, FAST)
    # Before any group exists; one as FastStream JSON of a dict, one as the outbox relay sends it.
    await publish(relay, invalidator.names.stream, [*as_json(events[:1]), events[1]])

    async with running(invalidator):
        await eventually(lambda: settled(invalidator.stream))

    found = await cache.store.lookup(slots)
    for f in found:
        if f.slot.key.policy.serve_stale:  # analytics: kept, served stale while refreshed
            assert f.entry is not None and f.stale_since_ms is not None, f.slot
        else:
            assert f.entry is None, f.slot
    assert await cached_body(cache, untouched) == b"cached"
    assert await redis.xpending(invalidator.names.stream, invalidator.names.group) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
    sample = invalidator.metrics.registry.get_sample_value
    assert sample("invalidator_events_processed_total", {"type": "comment.changed.v1"}) == 1
    assert sample("invalidator_keys_invalidated_total") == sum(
        len(keys_for_events([e])) for e in events
    )


async def test_what_is_not_a_domain_event_is_dead_lettered_at_once_and_the_next_applied(
    settings_under: RedisSettings, relay: RedisBroker, redis: Redis
) -> None:
    invalidator = build(settings_under, FAST)
    names = invalidator.names
    (after,) = study_events(1)
    await publish(relay, names.stream, [{"id": "not-a-uuid", "payload": {"type": "x"}}])
    await publish(relay, names.stream, [after])
    (poison_id, poison_fields), _ = await entries(redis, names.stream)

    async with running(invalidator):
        await eventually(lambda: settled(invalidator.stream))

    assert names.dead_letter is not None
    ((_, dead),) = await entries(redis, names.dead_letter)
    assert dead[b"dlq:reason"] == INVALID.encode()
    assert b"ValidationError" in dead[b"dlq:error"]
    assert (dead[b"dlq:id"], dead[b"dlq:deliveries"]) == (poison_id, b"1")
    assert dead[b"__data__"] == poison_fields[b"__data__"]
    sample = invalidator.metrics.registry.get_sample_value
    assert sample("invalidator_events_processed_total", {"type": "study.changed.v1"}) == 1
    assert sample("invalidator_dead_lettered_total", {"reason": INVALID}) == 1


class PoisonedStore:
    """Fails every time for the poisoned key; records when it handled anything else."""

    def __init__(self, poison: CacheKey) -> None:
        self.poison = poison
        self.poison_attempts = 0
        self.handled_at: list[float] = []

    async def invalidate(
        self, keys: Iterable[CacheKey], now_ms: int, certified: Certificates | None = None
    ) -> int:
        batch = set(keys)
        if self.poison in batch:
            self.poison_attempts += 1
            raise RuntimeError("cannot invalidate the poisoned entry")
        self.handled_at.append(time.time())
        return len(batch)


async def test_a_message_that_always_fails_is_dead_lettered_after_max_deliveries(
    settings_under: RedisSettings, relay: RedisBroker, redis: Redis
) -> None:
    poison, after = study_events(2)
    assert isinstance(poison.payload, StudyChanged)
    store = PoisonedStore(CacheKey.of(Family.STUDY_ACTIVITY, poison.payload.study_id))
    invalidator = build(settings_under, FAST, store=store)
    names = invalidator.names
    await publish(relay, names.stream, [poison, after])

    async with running(invalidator):
        await eventually(lambda: settled(invalidator.stream), within=20)

    assert names.dead_letter is not None
    ((_, dead),) = await entries(redis, names.dead_letter)
    assert dead[b"dlq:reason"] == FAILED.encode()
    assert dead[b"dlq:error"] == b"RuntimeError: cannot invalidate the poisoned entry"
    assert dead[b"dlq:deliveries"] == str(FAST.max_deliveries).encode()
    # Its first delivery shares a batch with `after`: the batch's one round trip fails, then
    # each event is applied on its own (the poisoned one fails again, `after` is applied).
    assert store.poison_attempts == FAST.max_deliveries + 1
    # The next message did not wait for the poisoned one to be given up.
    (handled_at,) = store.handled_at
    assert handled_at * 1000 < int(dead[b"dlq:at_ms"])
    sample = invalidator.metrics.registry.get_sample_value
    assert sample("invalidator_failures_total") == FAST.max_deliveries
    assert sample("invalidator_claimed_total") == FAST.max_deliveries - 1


async def test_a_consumer_killed_before_acking_loses_nothing(
    settings_under: RedisSettings, cache: CacheManager, relay: RedisBroker, redis: Redis
) -> None:
    events = study_events(20)
    invalidator = build(settings_under, FAST)
    names = invalidator.names
    await invalidator.stream.ensure_group()
    await publish(relay, names.stream, events)
    slots = await fill(cache, {k for k in keys_for_events(events) if not k.policy.serve_stale})
    # Consumer A reads the whole batch, then dies before acknowledging any of it.
    read = await read_group(redis, names.group, "crashed-A", names.stream, count=100)
    assert len(read) == len(events)
    read_at = time.monotonic()

    async with running(invalidator):
        await eventually(lambda: settled(invalidator.stream))
    recovered_after = time.monotonic() - read_at

    assert all(f.entry is None for f in await cache.store.lookup(slots))
    assert recovered_after >= FAST.claim_idle_ms / 1000  # claimed only once idle that long
    consumers = await redis.xinfo_consumers(names.stream, names.group)
    # the dead consumer stays, without entries; the stopped one left the group
    assert {c["name"]: c["pending"] for c in consumers} == {b"crashed-A": 0}
    sample = invalidator.metrics.registry.get_sample_value
    assert sample("invalidator_claimed_total") == len(events)
    assert sample("invalidator_events_processed_total", {"type": "study.changed.v1"}) == 20


async def test_a_consumer_stopping_with_entries_pending_to_it_stays_in_the_group_for_a_claim(
    settings_under: RedisSettings, relay: RedisBroker, redis: Redis
) -> None:
    no_claims = FAST.model_copy(update={"claim_idle_ms": 600_000})
    invalidator = build(settings_under, no_claims, consumer="stopping")
    names = invalidator.names
    await invalidator.stream.ensure_group()
    await publish(relay, names.stream, study_events(3))
    await redis.xreadgroup(names.group, "stopping", {names.stream: ">"}, count=1)

    async with running(invalidator):
        await eventually(lambda: _all_read_one_pending(invalidator.stream))

    consumers = await redis.xinfo_consumers(names.stream, names.group)
    assert {c["name"]: c["pending"] for c in consumers} == {b"stopping": 1}


async def _all_read_one_pending(stream: EventStream) -> bool:
    state = await stream.group_state()
    return (state.lag, state.pending) == (0, 1)


async def test_an_entry_whose_consumers_kept_dying_is_dead_lettered_untried(
    settings_under: RedisSettings, relay: RedisBroker, redis: Redis
) -> None:
    store = PoisonedStore(CacheKey.of(Family.SYSTEM_STATS))  # would fail any event: unused
    invalidator = build(settings_under, FAST, store=store)
    names = invalidator.names
    await invalidator.stream.ensure_group()
    await publish(relay, names.stream, study_events(1))
    ((entry_id, _),) = await read_group(redis, names.group, "A", names.stream)
    # As if consumers had died handling it on every delivery allowed so far.
    await redis.xclaim(
        names.stream, names.group, "A", 0, [entry_id], retrycount=FAST.max_deliveries
    )

    async with running(invalidator):
        await eventually(lambda: settled(invalidator.stream))

    assert names.dead_letter is not None
    ((_, dead),) = await entries(redis, names.dead_letter)
    assert dead[b"dlq:reason"] == ABANDONED.encode()
    assert dead[b"dlq:deliveries"] == str(FAST.max_deliveries + 1).encode()
    assert store.poison_attempts == 0


async def test_metrics_are_served_in_the_prometheus_format(
    settings_under: RedisSettings, relay: RedisBroker
) -> None:
    invalidator = build(settings_under, FAST)
    await publish(relay, invalidator.names.stream, [*study_events(2), {"hello": 1}])

    async with running(invalidator) as app:
        await eventually(lambda: settled(invalidator.stream))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert values[("invalidator_events_processed_total", (("type", "study.changed.v1"),))] == 2
    assert values[("invalidator_dead_lettered_total", (("reason", "invalid"),))] == 1
    assert values[("invalidator_consumer_group_lag", ())] == 0
    assert values[("invalidator_consumer_group_pending", ())] == 0
    assert values[("invalidator_invalidation_lag_seconds_count", ())] == 2
    assert values[("invalidator_keys_invalidated_total", ())] == 6
