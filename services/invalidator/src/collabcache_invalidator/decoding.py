"""A batch of stream entries as the invalidator's subscriber receives it: each entry decoded
on its own, so one that is not a `DomainEvent` never fails its neighbours.

FastStream's own batch parser decodes the whole batch as one JSON list (a bad entry fails the
batch; three JSON passes per entry). This parser reads each entry's FastStream envelope
(`__data__`: body and headers), validates the body as a `DomainEvent` and keeps the outcome
with the entry's id and fields (`Delivery`); the decoder hands the subscriber the valid events.

The envelope is FastStream's binary format (`BinaryMessageFormatV1`) when the broker's is:
read here with `struct` (`read_binary_v1`, several times faster than FastStream's reader,
which costs more than validating the event); anything else, or an envelope that does not
read, goes to the broker's own `message_format.parse`, whose outcome is the same.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from faststream.redis.message import FAKE_CONSUMER, RedisBatchStreamMessage
from faststream.redis.parser import BinaryMessageFormatV1, MessageFormat

from collabcache_shared.events import DomainEvent
from collabcache_shared.streams.group import Fields

from .settlement import NOT_AN_EVENT, UndecodableEntry

DATA_FIELD = b"__data__"  # FastStream's envelope field on a stream entry
# FastStream's binary envelope: magic, version 1 (>H), headers' offset and body's offset (>I
# each); at the headers' offset their count (>H), then each key and value (>H length, UTF-8).
BINARY_V1 = BinaryMessageFormatV1.IDENTITY_HEADER + struct.pack(">H", 1)
_OFFSETS = struct.Struct(">II")
_SHORT = struct.Struct(">H")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stream entry of a batch: its event, or why it is not one."""

    id: bytes  # b"" under FastStream's TestRedisBroker (nothing is written to Redis)
    fields: Fields
    event: DomainEvent | None
    error: Exception | None = None
    headers: Mapping[str, Any] | None = None


class EventBatch(RedisBatchStreamMessage):
    """FastStream's batch message, with each entry's decoded delivery."""

    deliveries: Sequence[Delivery] = ()


def decode_entry(entry_id: bytes, fields: Fields, message_format: type[MessageFormat]) -> Delivery:
    """Never raises: an entry that is not a DomainEvent carries its error instead."""
    headers: Mapping[str, Any] | None = None
    try:
        data = fields.get(DATA_FIELD, b"")
        envelope = read_binary_v1(data) if message_format is BinaryMessageFormatV1 else None
        body, headers = envelope or message_format.parse(data)
        return Delivery(entry_id, fields, DomainEvent.model_validate_json(body), None, headers)
    except NOT_AN_EVENT as exc:
        return Delivery(entry_id, fields, None, exc, headers)
    except Exception as exc:  # a broken envelope: retrying cannot mend it
        broken = UndecodableEntry(f"{type(exc).__name__}: {exc}")
        return Delivery(entry_id, fields, None, broken, headers)


def read_binary_v1(data: bytes) -> tuple[bytes, dict[str, Any]] | None:
    """(body, headers) of a binary envelope, as `BinaryMessageFormatV1.parse` reads it; None
    when `data` is not one or does not read (then FastStream's parser decides)."""
    if not data.startswith(BINARY_V1):
        return None
    try:
        headers_at, body_at = _OFFSETS.unpack_from(data, len(BINARY_V1))
        (count,) = _SHORT.unpack_from(data, headers_at)
        offset, headers = headers_at + 2, {}
        for _ in range(count):
            (size,) = _SHORT.unpack_from(data, offset)
            key = data[offset + 2 : offset + 2 + size].decode()
            offset += 2 + size
            (size,) = _SHORT.unpack_from(data, offset)
            headers[key] = data[offset + 2 : offset + 2 + size].decode()
            offset += 2 + size
    except (struct.error, UnicodeDecodeError):
        return None
    return data[body_at:], headers


def _entries(raw: Mapping[str, Any]) -> list[tuple[bytes, Fields]]:
    data: list[Fields] = raw.get("data") or []
    ids: list[bytes] = raw.get("message_ids") or [b""] * len(data)
    return list(zip(ids, data, strict=True))


def batch_parser(message_format: type[MessageFormat]) -> Any:
    """The subscriber's `parser`: a raw batch (`BatchStreamMessage`) to an `EventBatch`."""

    async def parse(raw: Mapping[str, Any]) -> EventBatch:
        deliveries = [decode_entry(i, f, message_format) for i, f in _entries(raw)]
        batch_headers = [dict(d.headers or {}) for d in deliveries]
        headers = batch_headers[0] if batch_headers else {}
        message = EventBatch(
            raw_message=raw,
            body=b"",
            headers=headers,
            batch_headers=batch_headers,
            content_type=headers.get("content-type"),
            **_ids(headers),
            consumer=FAKE_CONSUMER,  # acknowledged by `Settlement`, never by the message
            group=None,
        )
        message.deliveries = deliveries
        return message

    return parse


def _ids(headers: Mapping[str, Any]) -> dict[str, str]:
    # As FastStream's parser: the first entry's correlation id names the batch (its testing
    # broker matches the batch to what was published by it).
    found = headers.get("correlation_id") or headers.get("message_id") or ""
    return {"message_id": found, "correlation_id": found}


async def valid_events(message: EventBatch) -> list[DomainEvent]:
    """The subscriber's `decoder`: the batch's DomainEvents, in stream order."""
    return [d.event for d in message.deliveries if d.event is not None]
