"""The invalidator reads FastStream's binary envelope itself (`read_binary_v1`): it must read
exactly what FastStream's own parser reads, and leave to it whatever it cannot read."""

from __future__ import annotations

import uuid

import pytest
from faststream.redis.parser import BinaryMessageFormatV1

from collabcache_invalidator.decoding import DATA_FIELD, decode_entry, read_binary_v1
from tests.invalidator_support import sample_events

EVENT = sample_events()["comment.added"]
TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


async def envelope(body: bytes, headers: dict[str, str]) -> bytes:
    return await BinaryMessageFormatV1.encode(
        message=body, reply_to=None, headers=headers, correlation_id=str(uuid.uuid4())
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"content-type": "application/json"}, {"content-type": "x", "traceparent": TRACEPARENT}],
)
async def test_it_reads_what_faststream_reads(headers: dict[str, str]) -> None:
    data = await envelope(EVENT.model_dump_json().encode(), headers)

    read = read_binary_v1(data)

    assert read is not None and read == BinaryMessageFormatV1.parse(data)
    assert read[1]["correlation_id"] and read[0] == EVENT.model_dump_json().encode()


async def test_what_it_cannot_read_is_left_to_faststream() -> None:
    data = await envelope(b"{}", {"content-type": "application/json"})
    garbled = await envelope(b"{}", {"note": "caf\u00e9"})  # FastStream counts chars, not bytes

    assert read_binary_v1(data[:25]) is None  # truncated
    assert read_binary_v1(b'{"data": "{}", "headers": {}}') is None  # FastStream's JSON
    assert read_binary_v1(garbled) is None
    for raw in (data[:25], garbled, b'{"data": "x", "headers": {}}'):
        delivery = decode_entry(b"1-0", {DATA_FIELD: raw}, BinaryMessageFormatV1)
        assert delivery.event is None and delivery.error is not None


async def test_an_event_decodes_the_same_either_way() -> None:
    data = await envelope(EVENT.model_dump_json().encode(), {"traceparent": TRACEPARENT})

    delivery = decode_entry(b"1-0", {DATA_FIELD: data}, BinaryMessageFormatV1)

    assert delivery.event == EVENT and delivery.headers is not None
    assert delivery.headers["traceparent"] == TRACEPARENT
