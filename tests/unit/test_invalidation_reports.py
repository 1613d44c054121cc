"""The invalidator's `InvalidationApplied` reports, without servers: what a report says, a
bounded backlog, a batch of reports in one script call per chunk, and a report that fails
never failing the invalidation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from collabcache_invalidator import reports as reports_module
from collabcache_invalidator.reports import XADD_EACH, AppliedReports
from collabcache_shared.cache.reporting import DATA_FIELD
from collabcache_shared.events import InvalidationApplied, invalidation_applied_json
from collabcache_shared.invalidation import keys_for
from tests.invalidator_support import RecordingStore, batch_applier, delivery, sample_events

EVENT = sample_events()["comment.added"]


class RecordingPipe:
    """Records the stream entries each queued `XADD_EACH` call would add."""

    def __init__(self) -> None:
        self.added: list[tuple[str, dict[str, Any], int]] = []
        self.calls = 0

    def execute_command(self, *args: Any) -> None:
        command, script, key_count, stream, maxlen, field, *reports = args
        assert (command, script, key_count) == ("EVAL", XADD_EACH, 1)
        self.calls += 1
        self.added += [(stream, {field: report}, maxlen) for report in reports]


def test_a_report_says_what_was_applied_and_how_long_after_the_change() -> None:
    reports = AppliedReports("cc:stream:invalidations", maxlen=500)
    event = EVENT.model_copy(update={"occurred_at": datetime(2026, 1, 1, tzinfo=UTC)})
    applied_at = event.occurred_at + timedelta(milliseconds=1234.5)

    reports.record(event, 7, applied_at.timestamp())
    pipe = RecordingPipe()

    assert reports.drain_into(pipe) == 1 and reports.pending == 0
    ((stream, fields, maxlen),) = pipe.added
    assert (stream, maxlen) == ("cc:stream:invalidations", 500)
    report = InvalidationApplied.model_validate_json(fields[DATA_FIELD])
    assert report == InvalidationApplied(
        at_ms=int(applied_at.timestamp() * 1000),
        event_type="comment.changed.v1",
        keys=7,
        lag_ms=1234.5,
    )
    assert orjson.loads(fields[DATA_FIELD])["type"] == "invalidation.applied.v1"


def test_the_backlog_is_bounded_dropping_the_oldest() -> None:
    reports = AppliedReports("s", maxlen=100, capacity=3)
    for keys in range(5):
        reports.record(EVENT, keys, 0.0)
    pipe = RecordingPipe()

    reports.drain_into(pipe)

    assert [orjson.loads(f[DATA_FIELD])["keys"] for _, f, _ in pipe.added] == [2, 3, 4]
    assert reports.dropped == 2
    reports.sent([RuntimeError("script failed")])  # its call carried the 3 reports
    assert reports.dropped == 5


def test_reports_go_in_one_call_per_chunk_and_a_failed_call_drops_only_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reports_module, "CHUNK", 2)
    reports = AppliedReports("s", maxlen=100)
    for keys in range(5):
        reports.record(EVENT, keys, 0.0)
    pipe = RecordingPipe()

    assert reports.drain_into(pipe) == 5 and pipe.calls == 3
    assert [orjson.loads(f[DATA_FIELD])["keys"] for _, f, _ in pipe.added] == [0, 1, 2, 3, 4]
    reports.sent([2, RuntimeError("script failed"), 1])
    assert reports.dropped == 2


@pytest.mark.parametrize("lag_ms", [0.0, 0.001, 1234.5, 86_400_000.125, 1e20])
def test_a_report_is_encoded_exactly_as_its_model_would_be(lag_ms: float) -> None:
    fields: dict[str, Any] = {"at_ms": 1_767_225_600_000, "event_type": "team.changed.v1"}
    fields["keys"] = 3
    expected = InvalidationApplied(**fields, lag_ms=lag_ms).model_dump_json().encode()
    assert invalidation_applied_json(**fields, lag_ms=lag_ms) == expected


async def test_a_failing_report_never_fails_the_invalidation() -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("cannot report")

    store = RecordingStore()
    apply, ops, metrics = batch_applier(store, report=broken)

    await apply([delivery(b"1-0", EVENT)])

    assert [keys for keys, _ in store.calls] == [set(keys_for(EVENT.payload))]
    assert (ops.acked, ops.dead) == ([b"1-0"], [])
    sample = metrics.registry.get_sample_value
    assert sample("invalidator_events_processed_total", {"type": "comment.changed.v1"}) == 1


@pytest.mark.parametrize("batched", [True, False], ids=["one-batch", "one-by-one"])
async def test_each_applied_event_is_reported_once_with_its_count(batched: bool) -> None:
    recorded: list[tuple[str, int]] = []
    apply, _, _ = batch_applier(
        RecordingStore(), report=lambda event, keys, _at: recorded.append((event.type, keys))
    )
    events = list(sample_events().values())
    deliveries = [delivery(f"{i}-0".encode(), e) for i, e in enumerate(events)]

    if batched:
        await apply(deliveries)
    else:
        for one in deliveries:
            await apply([one])

    assert recorded == [(e.type, len(set(keys_for(e.payload)))) for e in events]
