"""The API's shutdown is bounded (README, "Configuration"): `API_GRACEFUL_SHUTDOWN_SECONDS`,
20 s unless set, reaches uvicorn as the time it lets requests in flight finish after SIGTERM."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from collabcache_api.server import server_config
from collabcache_shared.settings import ApiSettings

APP = "collabcache_api.main:create_app"


def test_uvicorn_waits_at_most_the_configured_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_GRACEFUL_SHUTDOWN_SECONDS", raising=False)
    assert server_config(ApiSettings(), APP).timeout_graceful_shutdown == 20

    monkeypatch.setenv("API_GRACEFUL_SHUTDOWN_SECONDS", "7")
    assert server_config(ApiSettings(), APP, workers=2).timeout_graceful_shutdown == 7


@pytest.mark.parametrize("seconds", ["0", "-5"])
def test_the_bound_is_positive(seconds: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_GRACEFUL_SHUTDOWN_SECONDS", seconds)
    with pytest.raises(ValidationError, match="api_graceful_shutdown_seconds"):
        ApiSettings()
