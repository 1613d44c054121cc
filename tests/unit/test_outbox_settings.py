"""The outbox relay's settings come from OUTBOX_* and decide whether the API runs a relay."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from collabcache_api.bootstrap import build_container
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.events import DOMAIN_EVENTS_STREAM
from collabcache_shared.settings import ApiSettings, CacheSettings, OutboxSettings, RedisSettings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = OutboxSettings()
    assert (defaults.relay_enabled, defaults.poll_interval_seconds) == (True, 1.0)
    assert defaults.stream_maxlen == 100_000
    monkeypatch.setenv("OUTBOX_RELAY_ENABLED", "false")
    monkeypatch.setenv("OUTBOX_BATCH_SIZE", "50")
    configured = OutboxSettings()
    assert (configured.relay_enabled, configured.batch_size) == (False, 50)


@pytest.mark.parametrize(
    "bad", [{"batch_size": 0}, {"poll_interval_seconds": 0}, {"stream_maxlen": 10}]
)
def test_nonsense_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OutboxSettings(**bad)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_container_has_a_relay_on_the_domain_stream_only_when_enabled(enabled: bool) -> None:
    redis = RedisSettings(key_prefix="unit")
    container = build_container(
        ApiSettings(environment="test"),
        redis,
        CacheSettings(),
        OutboxSettings(relay_enabled=enabled),
    )
    relay = container.outbox_relay
    assert (relay is not None) == enabled
    if relay is not None:
        assert relay.publisher.stream == KeySpace(prefix="unit").stream(DOMAIN_EVENTS_STREAM)
