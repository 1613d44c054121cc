"""A batch is applied in one invalidation of the union of its events' keys and acknowledged in
one XACK; what is not a DomainEvent is dead-lettered on its own; an event that keeps failing
fails alone, its neighbours are applied and acknowledged."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import pytest
from faststream.redis.parser import BinaryMessageFormatV1
from redis.exceptions import ConnectionError as RedisConnectionError

from collabcache_invalidator.decoding import decode_entry
from collabcache_invalidator.settlement import INVALID, NOT_AN_EVENT
from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.cache.store import Certificates
from collabcache_shared.invalidation import keys_for
from tests.invalidator_support import RecordingStore, batch_applier, delivery, sample_events

SAMPLES = sample_events()


class PoisonedStore(RecordingStore):
    """Fails every invalidation that includes the poisoned key."""

    def __init__(self, poison: CacheKey) -> None:
        super().__init__()
        self.poison = poison

    async def invalidate(
        self, keys: Iterable[CacheKey], now_ms: int, certified: Certificates | None = None
    ) -> int:
        batch = set(keys)
        if self.poison in batch:
            raise RuntimeError("poisoned")
        return await super().invalidate(batch, now_ms, certified)


def encoded(body: bytes) -> dict[bytes, bytes]:
    return {b"__data__": body}


async def test_a_batch_is_one_invalidation_of_its_keys_union_and_one_ack() -> None:
    events = list(SAMPLES.values())
    store = RecordingStore()
    apply, ops, metrics = batch_applier(store)

    await apply([delivery(f"{i}-0".encode(), e) for i, e in enumerate(events)])

    union = set().union(*(keys_for(e.payload) for e in events))
    assert [keys for keys, _ in store.calls] == [union]
    assert ops.acked == [f"{i}-0".encode() for i in range(len(events))]
    per_event = sum(len(set(keys_for(e.payload))) for e in events)
    assert metrics.registry.get_sample_value("invalidator_keys_invalidated_total") == per_event


async def test_bad_entries_are_dead_lettered_and_a_poisoned_event_fails_alone() -> None:
    first, poisoned = SAMPLES["team.created"], SAMPLES["study.updated"]
    last = SAMPLES["organization.renamed"]
    store = PoisonedStore(keys_for(poisoned.payload)[0])
    apply, ops, metrics = batch_applier(store)
    invalid = decode_entry(b"2-0", encoded(b"not json"), BinaryMessageFormatV1)

    batch = [delivery(b"1-0", first), invalid, delivery(b"3-0", poisoned), delivery(b"4-0", last)]
    await apply(batch)

    assert ops.acked == [b"1-0", b"4-0"]
    assert [(d["id"], d["reason"]) for d in ops.dead] == [(b"2-0", INVALID)]
    assert [keys for keys, _ in store.calls] == [
        set(keys_for(first.payload)),
        set(keys_for(last.payload)),
    ]
    assert metrics.registry.get_sample_value("invalidator_failures_total") == 1


def test_each_entry_is_decoded_on_its_own() -> None:
    event = SAMPLES["comment.added"]

    valid = decode_entry(b"1-0", encoded(event.model_dump_json().encode()), BinaryMessageFormatV1)
    unknown = decode_entry(b"2-0", encoded(b'{"payload": {"type": "x"}}'), BinaryMessageFormatV1)
    bare = decode_entry(b"3-0", {b"other": b"field"}, BinaryMessageFormatV1)

    assert (valid.event, valid.error) == (event, None)
    assert unknown.event is None and "ValidationError" in type(unknown.error).__name__
    assert bare.event is None and bare.error is not None


class UnreachableStore(RecordingStore):
    """Redis is away: every invalidation fails to connect."""

    async def invalidate(
        self, keys: Iterable[CacheKey], now_ms: int, certified: Certificates | None = None
    ) -> int:
        await super().invalidate(keys, now_ms, certified)
        raise RedisConnectionError("Redis is away")


async def test_a_batch_redis_cannot_take_stays_pending_whole() -> None:
    store = UnreachableStore()
    apply, ops, _ = batch_applier(store)
    batch = [delivery(f"{i}-0".encode(), e) for i, e in enumerate(SAMPLES.values())]

    with pytest.raises(RedisConnectionError):
        await apply(batch)

    assert len(store.calls) == 1  # not retried one by one against a Redis that is away
    assert ops.acked == []
    assert ops.dead == []


class BrokenFormat(BinaryMessageFormatV1):
    """A message format whose reader fails in a way no retry mends."""

    @classmethod
    def parse(cls, data: bytes) -> tuple[bytes, dict[str, Any]]:
        raise struct.error("unpack requires a buffer of 4 bytes")


def test_an_envelope_no_retry_can_mend_is_not_an_event() -> None:
    broken = decode_entry(b"5-0", encoded(b"\x00\x01"), BrokenFormat)

    assert broken.event is None
    assert isinstance(broken.error, NOT_AN_EVENT), broken.error  # dead-lettered at once
