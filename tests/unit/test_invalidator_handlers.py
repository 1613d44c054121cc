"""The invalidator's handler and settlement without servers: `apply_batch` deletes exactly the
keys of the rules table in one call and is idempotent; under FastStream's TestRedisBroker a
published DomainEvent reaches it, and what is not a DomainEvent or keeps failing is
dead-lettered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from faststream.redis import TestRedisBroker

from collabcache_invalidator.bootstrap import Invalidator, build
from collabcache_invalidator.handlers import apply_batch
from collabcache_invalidator.settlement import FAILED, INVALID
from collabcache_shared.cache.keys import CacheKey, Family
from collabcache_shared.clock import now_ms
from collabcache_shared.events import CommentChanged, DomainEvent, TeamChanged
from collabcache_shared.invalidation import keys_for
from collabcache_shared.settings import InvalidatorSettings, RedisSettings
from tests.invalidator_support import (
    FailingStore,
    RecordingStore,
    RecordingStreamOps,
    batch_applier,
    delivery,
    sample_events,
)

SAMPLES = sample_events()
UNREACHABLE = RedisSettings(url="redis://127.0.0.1:1/0", key_prefix="unit")


@pytest.mark.parametrize("name", list(SAMPLES))
async def test_apply_invalidates_exactly_the_rules_table_keys_in_one_call(name: str) -> None:
    event, store = SAMPLES[name], RecordingStore()

    (count,) = await apply_batch([event], store, at_ms=1234)

    expected = set(keys_for(event.payload))
    assert store.calls == [(expected, 1234)]
    assert count == len(expected)


async def test_a_batch_names_for_each_entry_the_events_a_clear_may_have_certified_it_for() -> None:
    """The invalidator spares an entry only if the writes' own clears certified it for every
    event of the batch that affects it: each entry is sent with exactly those events' ids."""
    first, second = SAMPLES["comment.added"], SAMPLES["team.deleted"]
    store = RecordingStore()

    await apply_batch([first, second], store, at_ms=1)

    [certified] = store.certificates
    assert certified is not None
    for key in store.calls[0][0]:
        expected = [e.id.hex for e in (first, second) if key in keys_for(e.payload)]
        assert list(certified[key]) == expected, key
    shared = CacheKey.of(Family.SYSTEM_STATS)
    assert list(certified[shared]) == [first.id.hex, second.id.hex]


def test_the_rules_table_fans_out_to_every_identifier_an_event_carries() -> None:
    comment = SAMPLES["comment.added"].payload
    team = SAMPLES["team.deleted"].payload
    assert isinstance(comment, CommentChanged) and isinstance(team, TeamChanged)

    comment_keys = set(keys_for(comment))
    team_keys = set(keys_for(team))

    assert {CacheKey.of(Family.TEAM_ANALYTICS, t) for t in comment.author_team_ids} <= comment_keys
    assert CacheKey.of(Family.STUDY_COMMENTS, comment.study_id) in comment_keys
    assert {CacheKey.of(Family.USER_PERMISSIONS, m) for m in team.member_ids} <= team_keys
    assert CacheKey.of(Family.SYSTEM_STATS) in comment_keys & team_keys


@pytest.mark.parametrize("name", list(SAMPLES))
async def test_applying_an_event_twice_changes_nothing_more(name: str) -> None:
    event = SAMPLES[name]
    unrelated = CacheKey.of(Family.STUDY_COMMENTS, uuid.uuid4())
    store = RecordingStore(live=[*keys_for(event.payload), unrelated])

    await apply_batch([event], store, now_ms())
    after_once = set(store.live)
    await apply_batch([event], store, now_ms())

    assert after_once == store.live == {unrelated}
    assert store.calls[0][0] == store.calls[1][0]


async def test_an_applied_event_records_its_type_keys_and_invalidation_lag() -> None:
    store = RecordingStore()
    occurred = datetime(2026, 1, 1, tzinfo=UTC)
    event = SAMPLES["study.updated"].model_copy(update={"occurred_at": occurred})
    now = (occurred + timedelta(seconds=3)).timestamp()
    apply, _, metrics = batch_applier(store, clock=lambda: now)

    await apply([delivery(b"1-0", event)])

    sample = metrics.registry.get_sample_value
    assert sample("invalidator_events_processed_total", {"type": "study.changed.v1"}) == 1
    assert sample("invalidator_keys_invalidated_total") == len(store.calls[0][0])
    assert sample("invalidator_invalidation_lag_seconds_sum") == pytest.approx(3.0)
    assert sample("invalidator_invalidation_lag_seconds_bucket", {"le": "2.5"}) == 0


def wired(store: object, max_deliveries: int = 5) -> tuple[Invalidator, RecordingStreamOps]:
    settings = InvalidatorSettings(max_deliveries=max_deliveries)
    invalidator = build(UNREACHABLE, settings, consumer="unit", store=store)  # type: ignore[arg-type]
    ops = RecordingStreamOps()
    invalidator.settlement.stream = ops
    return invalidator, ops


async def test_a_published_domain_event_reaches_the_handler_typed() -> None:
    store = RecordingStore()
    invalidator, ops = wired(store)
    event = SAMPLES["collaboration.role_changed"]

    async with TestRedisBroker(invalidator.broker) as broker:
        await broker.publish(
            event.model_dump(mode="json"),
            stream=invalidator.names.stream,
            headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        )

    assert [keys for keys, _ in store.calls] == [set(keys_for(event.payload))]
    assert ops.dead == []


@pytest.mark.parametrize(
    "body",
    [{"id": str(uuid.uuid4()), "payload": {"type": "nope.v1"}}, {"hello": 1}, b"not json", []],
    ids=["unknown-type", "wrong-shape", "not-json", "a-list"],
)
async def test_what_is_not_a_domain_event_is_dead_lettered_at_once(body: object) -> None:
    store = RecordingStore()
    invalidator, ops = wired(store)
    valid = SAMPLES["team.created"]

    async with TestRedisBroker(invalidator.broker) as broker:
        await broker.publish(body, stream=invalidator.names.stream)
        await broker.publish(valid.model_dump(mode="json"), stream=invalidator.names.stream)

    (dead,) = ops.dead
    assert dead["reason"] == INVALID
    assert "ValidationError" in str(dead["error"])
    assert b"__data__" in dead["fields"]  # type: ignore[operator]
    assert [keys for keys, _ in store.calls] == [set(keys_for(valid.payload))]


async def test_a_failure_below_max_deliveries_stays_pending_for_a_retry() -> None:
    invalidator, ops = wired(FailingStore(), max_deliveries=3)
    ops.delivery_count = 2

    await invalidator.settlement.failed(b"1-0", {b"k": b"v"}, RuntimeError("boom"))

    assert (ops.acked, ops.dead) == ([], [])
    assert invalidator.metrics.registry.get_sample_value("invalidator_failures_total") == 1


async def test_the_failure_of_the_last_allowed_delivery_dead_letters_it() -> None:
    invalidator, ops = wired(FailingStore(), max_deliveries=3)
    ops.delivery_count = 3

    await invalidator.settlement.failed(b"1-0", {b"k": b"v"}, RuntimeError("boom"))

    assert ops.dead == [
        {
            "id": b"1-0",
            "fields": {b"k": b"v"},
            "reason": FAILED,
            "error": "RuntimeError: boom",
            "deliveries": 3,
        }
    ]


async def test_a_handler_that_always_fails_is_dead_lettered_after_max_deliveries() -> None:
    store = FailingStore()
    invalidator, ops = wired(store, max_deliveries=1)

    async with TestRedisBroker(invalidator.broker) as broker:
        await broker.publish(SAMPLES["team.created"].model_dump(mode="json"), stream="x")
        await broker.publish(
            SAMPLES["team.created"].model_dump(mode="json"), stream=invalidator.names.stream
        )

    assert store.attempts == 1
    assert [(d["reason"], d["error"]) for d in ops.dead] == [
        (FAILED, "RuntimeError: the entry store is broken")
    ]


def test_the_invalidator_defaults() -> None:
    settings = InvalidatorSettings()

    assert (settings.max_deliveries, settings.claim_idle_ms) == (5, 30_000)
    assert DomainEvent.model_fields["payload"].discriminator == "type"
