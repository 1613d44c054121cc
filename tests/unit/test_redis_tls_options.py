"""RedisSettings puts its TLS options in the `rediss://` URL, where every client made from the
URL (redis-py's pools, FastStream's brokers) reads them."""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import parse_url

from collabcache_shared.settings import RedisSettings


def test_the_ca_and_the_verification_mode_ride_in_a_rediss_url() -> None:
    settings = RedisSettings(
        url="rediss://app:s3cret@cache.example:6380/0",
        ssl_ca_certs="/etc/ssl/private ca.pem",
        ssl_cert_reqs="optional",
    )
    options: dict[str, Any] = dict(parse_url(settings.dsn))
    assert options["ssl_ca_certs"] == "/etc/ssl/private ca.pem"
    assert options["ssl_cert_reqs"] == "optional"
    assert (options["username"], options["password"]) == ("app", "s3cret")
    assert "s3cret" not in settings.redacted_dsn()


def test_options_already_in_the_url_win() -> None:
    settings = RedisSettings(url="rediss://h:1/0?ssl_ca_certs=/a.pem", ssl_ca_certs="/b.pem")
    assert dict(parse_url(settings.dsn)).get("ssl_ca_certs") == "/a.pem"


def test_a_url_without_tls_or_tls_options_is_unchanged() -> None:
    assert RedisSettings(url="redis://h:1/0", ssl_ca_certs="/b.pem").dsn == "redis://h:1/0"
    assert RedisSettings(url="rediss://h:1/0").dsn == "rediss://h:1/0"
    built = RedisSettings(url=None, host="h", ssl=True, password="p", ssl_ca_certs="/c.pem")
    assert built.dsn == "rediss://:p@h:6379/0?ssl_ca_certs=/c.pem"
