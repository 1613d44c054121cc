"""Configuration: production refuses weak secrets, Redis is one URL or its options (and never
logs its password), CORS origins depend on the environment unless set explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from collabcache_shared.settings import (
    DEV_CORS_ORIGINS,
    DEV_JWT_SECRET,
    ApiSettings,
    AuthSettings,
    RedisSettings,
)

HOST = "api.example.org"
STRONG = "Zq8v3Jm1Xc7pLr2Tw9Ks4Nd6Bh0Fy5Ga"  # 32 characters


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Neither the environment nor a `.env` file of the working directory may leak in."""
    for name in ("ENVIRONMENT", "JWT_SECRET", "CORS_ORIGINS", "REDIS_URL", "REDIS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_SSL", "REDIS_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield


# --- JWT secret in production -------------------------------------------------------------


@pytest.mark.parametrize("settings_class", [AuthSettings, ApiSettings])
@pytest.mark.parametrize(
    "secret",
    [None, DEV_JWT_SECRET, "changeme", "secret", "", STRONG[:31]],
    ids=["default", "dev secret", "changeme", "secret", "empty", "31 characters"],
)
def test_production_refuses_a_default_or_short_secret(
    settings_class: type[AuthSettings], secret: str | None
) -> None:
    extra: dict[str, Any] = {} if secret is None else {"jwt_secret": SecretStr(secret)}
    with pytest.raises(ValueError, match="JWT_SECRET"):
        settings_class(environment="production", **extra)


@pytest.mark.parametrize("settings_class", [AuthSettings, ApiSettings])
def test_production_accepts_a_strong_secret(settings_class: type[AuthSettings]) -> None:
    extra: dict[str, Any] = {}
    if settings_class is ApiSettings:
        extra["allowed_hosts"] = ["api.example.org"]
    settings = settings_class(environment="production", jwt_secret=SecretStr(STRONG), **extra)
    assert settings.is_production
    assert settings.jwt_secret.get_secret_value() == STRONG


def test_production_reads_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="JWT_SECRET"):
        ApiSettings()
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("ALLOWED_HOSTS", "api.example.org")
    assert ApiSettings().jwt_secret.get_secret_value() == STRONG


@pytest.mark.parametrize("environment", ["development", "test"])
def test_other_environments_run_on_the_development_secret(environment: str) -> None:
    settings = ApiSettings(environment=environment)
    assert not settings.is_production
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET


def test_the_secret_is_not_shown_in_the_settings_repr() -> None:
    settings = ApiSettings(
        environment="production", jwt_secret=SecretStr(STRONG), allowed_hosts=[HOST]
    )
    assert STRONG not in repr(settings)
    assert STRONG not in str(settings.model_dump())


def test_a_refused_secret_is_not_printed_in_the_error() -> None:
    weak = "short-but-secret-value"
    with pytest.raises(ValueError, match="JWT_SECRET") as refused:
        ApiSettings(environment="production", jwt_secret=SecretStr(weak), allowed_hosts=[HOST])
    assert weak not in str(refused.value)
    with pytest.raises(ValueError) as invalid:  # a value refused by its type: not echoed either
        ApiSettings(api_port="not-a-port-but-a-secret")
    assert "not-a-port-but-a-secret" not in str(invalid.value)


# --- Hosts, proxies and limits (README, "Security") -----------------------------------------


def test_production_serves_only_the_hosts_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    unnamed = ApiSettings(environment="production", jwt_secret=SecretStr(STRONG))
    with pytest.raises(ValueError, match="ALLOWED_HOSTS"):
        unnamed.served_hosts  # noqa: B018  (create_app reads it: the API refuses to start)
    monkeypatch.setenv("ALLOWED_HOSTS", " api.example.org, *.example.net ,")
    settings = ApiSettings(environment="production", jwt_secret=SecretStr(STRONG))
    assert settings.served_hosts == ["api.example.org", "*.example.net"]


def test_outside_production_any_host_is_served_and_no_proxy_trusted() -> None:
    settings = ApiSettings(environment="development")
    assert settings.served_hosts == ["*"]
    assert settings.forwarded_allow_ips == ""


# --- Redis: one URL or the options --------------------------------------------------------


def test_redis_url_wins_over_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6390/3")
    monkeypatch.setenv("REDIS_HOST", "ignored.example")
    settings = RedisSettings()
    assert settings.dsn == "redis://cache.example:6390/3"
    assert not settings.uses_tls


def test_redis_options_build_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "cache.internal")
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("REDIS_DB", "2")
    assert RedisSettings().dsn == "redis://cache.internal:6380/2"


def test_redis_defaults_to_local() -> None:
    assert RedisSettings().dsn == "redis://127.0.0.1:6379/0"


def test_redis_ssl_option_means_rediss() -> None:
    settings = RedisSettings(host="cache.example", ssl=True)
    assert settings.dsn == "rediss://cache.example:6379/0"
    assert settings.uses_tls


def test_a_rediss_url_means_tls() -> None:
    settings = RedisSettings(url="rediss://:pw@cache.example:6380/0")
    assert settings.uses_tls
    assert settings.dsn == "rediss://:pw@cache.example:6380/0"


def test_redis_credentials_are_quoted_into_the_url() -> None:
    settings = RedisSettings(host="h", username="app user", password=SecretStr("p@ss:w/rd"))
    assert settings.dsn == "redis://app%20user:p%40ss%3Aw%2Frd@h:6379/0"


def test_a_username_without_password() -> None:
    assert RedisSettings(host="h", username="reader").dsn == "redis://reader@h:6379/0"


@pytest.mark.parametrize(
    "options",
    [
        {"url": "redis://app:hunter2-secret@cache.example:6379/0"},
        {"url": "rediss://:hunter2-secret@cache.example:6380/1"},
        {"host": "cache.example", "password": SecretStr("hunter2-secret")},
        {"host": "cache.example", "username": "app", "password": SecretStr("hunter2-secret")},
        {"url": "redis://cache.example:6379/0?password=hunter2-secret"},
    ],
    ids=["url user", "url no user", "options", "options user", "url query"],
)
def test_redacted_dsn_hides_the_password(options: dict[str, object]) -> None:
    # Built inside the test, after the fixture cleared REDIS_URL & co. from the environment.
    settings = RedisSettings(**options)  # type: ignore[arg-type]
    assert "hunter2-secret" in settings.dsn
    redacted = settings.redacted_dsn()
    assert "hunter2-secret" not in redacted
    assert "***" in redacted
    assert "cache.example" in redacted


def test_redacted_dsn_hides_a_quoted_password() -> None:
    settings = RedisSettings(host="h", password=SecretStr("p@ss:w/rd"))
    redacted = settings.redacted_dsn()
    assert "p%40ss" not in redacted and "p@ss" not in redacted
    assert redacted == "redis://:***@h:6379/0"


def test_redacted_dsn_without_password_is_the_dsn() -> None:
    settings = RedisSettings(url="redis://cache.example:6379/0")
    assert settings.redacted_dsn() == settings.dsn


@pytest.mark.parametrize("url", ["http://cache.example:6379", "cache.example:6379", "tcp://x"])
def test_a_redis_url_of_another_scheme_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="REDIS_URL"):
        RedisSettings(url=url)


# --- CORS ---------------------------------------------------------------------------------


def test_development_allows_the_dev_origins_by_default() -> None:
    assert ApiSettings(environment="development").allowed_origins == list(DEV_CORS_ORIGINS)
    assert "http://localhost:5173" in DEV_CORS_ORIGINS


def test_production_allows_no_origin_by_default() -> None:
    settings = ApiSettings(
        environment="production", jwt_secret=SecretStr(STRONG), allowed_hosts=[HOST]
    )
    assert settings.allowed_origins == []


@pytest.mark.parametrize("environment", ["development", "production"])
def test_cors_origins_from_the_environment_are_honoured(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("ALLOWED_HOSTS", HOST)
    monkeypatch.setenv("CORS_ORIGINS", " https://app.example.org, https://admin.example.org ,")
    assert ApiSettings().allowed_origins == [
        "https://app.example.org",
        "https://admin.example.org",
    ]


def test_an_empty_cors_list_allows_nothing_even_in_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "")
    assert ApiSettings(environment="development").allowed_origins == []


def test_an_invalid_origin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://ok.example,not an origin")
    with pytest.raises(ValidationError):
        ApiSettings()
