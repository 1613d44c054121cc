"""The trace context of the request that made a change travels with its domain event."""

from __future__ import annotations

import httpx
import pytest

from collabcache_api import transaction_events
from tests.integration.builders import Builder

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The events each write's transaction recorded, as the request read them back."""
    seen: list[object] = []
    original = transaction_events.of_current_transaction

    async def spy(session: object) -> list[object]:
        events = await original(session)  # type: ignore[arg-type]
        seen.extend(events)
        return events  # type: ignore[return-value]

    monkeypatch.setattr(transaction_events, "of_current_transaction", spy)
    return seen


async def test_a_write_carries_the_request_traceparent(
    client: httpx.AsyncClient, build: Builder, captured: list[object]
) -> None:
    s = await build.scene()
    response = await client.patch(
        f"/api/organizations/{s.org_id}",
        json={"name": "Traced"},
        headers={**s.owner.headers, "traceparent": TRACEPARENT},
    )
    assert response.status_code == 200
    assert [e.traceparent for e in captured] == [TRACEPARENT]  # type: ignore[attr-defined]
    assert [e.source for e in captured] == ["api"]  # type: ignore[attr-defined]


async def test_a_malformed_traceparent_is_ignored(
    client: httpx.AsyncClient, build: Builder, captured: list[object]
) -> None:
    s = await build.scene()
    response = await client.patch(
        f"/api/organizations/{s.org_id}",
        json={"name": "Untraced"},
        headers={**s.owner.headers, "traceparent": "'; DROP TABLE users; --"},
    )
    assert response.status_code == 200
    assert [e.traceparent for e in captured] == [None]  # type: ignore[attr-defined]
