"""Remembered tokens (the hot path skips re-verifying a token it has seen) keep every refusal:
expiry is checked on each request, and a token is remembered only for the settings that
verified it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from collabcache_api import security
from collabcache_api.errors import Unauthorized
from collabcache_api.security import issue_token, user_id_from_token
from collabcache_shared.settings import AuthSettings

SECRET = "unit-test-secret-with-enough-length-0123456789"


@pytest.fixture(autouse=True)
def _fresh_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    for name in ("ENVIRONMENT", "JWT_SECRET", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    security._verified.cache_clear()
    yield
    security._verified.cache_clear()


@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings(jwt_secret=SecretStr(SECRET))


def test_a_remembered_token_is_refused_once_it_expires(
    settings: AuthSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = uuid.uuid4()
    token = issue_token(user_id, settings, ttl=timedelta(minutes=5))
    assert user_id_from_token(token, settings) == user_id
    assert user_id_from_token(token, settings) == user_id  # remembered
    assert security._verified.cache_info().hits == 1
    later = security._clock() + 5 * 60
    monkeypatch.setattr(security, "_clock", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        user_id_from_token(token, settings)


def test_a_remembered_token_is_refused_under_other_settings(settings: AuthSettings) -> None:
    token = issue_token(uuid.uuid4(), settings)
    user_id_from_token(token, settings)
    for other in (
        AuthSettings(jwt_secret=SecretStr("another-secret-of-sufficient-length-xyz")),
        AuthSettings(jwt_secret=SecretStr(SECRET), jwt_audience="somebody-else"),
        AuthSettings(jwt_secret=SecretStr(SECRET), jwt_issuer="somebody-else"),
    ):
        with pytest.raises(Unauthorized, match="Invalid token"):
            user_id_from_token(token, other)


def test_a_refused_token_is_not_remembered(settings: AuthSettings) -> None:
    for _ in range(2):
        with pytest.raises(Unauthorized):
            user_id_from_token("a.b.c", settings)
    assert security._verified.cache_info().currsize == 0
