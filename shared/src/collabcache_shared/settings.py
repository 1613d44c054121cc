"""Configuration shared by every collabcache service, read from the environment.

One `Settings` class per concern so each service reads only what it needs; all of them use
pydantic-settings, so `REDIS_URL=...` or `REDIS_HOST=...` in the environment (or a `.env`
file) configure them. Production refuses to start on default or missing secrets.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Self
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from pydantic import AnyUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .cache.keys import Family, ttl_of

# A value that must never run in production: used as the development default.
DEV_JWT_SECRET = "collabcache-dev-secret-change-me-0123456789"
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "changeme", "secret", DEV_JWT_SECRET})
DEV_CORS_ORIGINS = (
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureConfiguration(ValueError):
    """Raised when production is configured with a default or missing secret."""


class _Base(BaseSettings):
    # hide_input_in_errors: a refused value (a secret among them) is never printed in the error.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", env_file_encoding="utf-8", hide_input_in_errors=True
    )

    # An alias bypasses env_prefix: every settings class reads the one unprefixed `ENVIRONMENT`.
    environment: Environment = Field(
        default=Environment.DEVELOPMENT, validation_alias="environment"
    )

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


class RedisSettings(_Base):
    """Either one `REDIS_URL` (redis:// or rediss://) or the individual options."""

    model_config = SettingsConfigDict(env_prefix="REDIS_", env_file=".env", extra="ignore")

    url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=6379, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    db: int = Field(default=0, ge=0)
    ssl: bool = False
    ssl_ca_certs: str | None = None
    ssl_cert_reqs: str = "required"
    # A slow Redis must not hold a request for long (see the circuit breaker), but a machine
    # busy at its peak must not trip the breaker either: 50 ms did (README, "Configuration").
    socket_timeout: float = Field(default=0.25, gt=0)
    socket_connect_timeout: float = Field(default=0.1, gt=0)
    retry_attempts: int = Field(default=1, ge=0)
    retry_backoff_base: float = Field(default=0.005, ge=0)
    retry_backoff_cap: float = Field(default=0.05, ge=0)
    max_connections: int = Field(default=64, ge=1)
    # A burst beyond max_connections waits this long for a free connection rather than failing
    # at once (failures open the breaker: every request would then load from the database).
    pool_timeout: float = Field(default=0.2, gt=0)
    health_check_interval: int = Field(default=30, ge=0)
    key_prefix: str = "cc"
    cluster: bool = False  # REDIS_CLUSTER=true: the URL names one node of a Redis Cluster

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("REDIS_URL must start with redis://, rediss:// or unix://")
        return value or None

    @property
    def dsn(self) -> str:
        """The connection URL, built from the options when `REDIS_URL` is not set.

        On a `rediss://` URL the TLS options ride in the query (`?ssl_ca_certs=...`), where
        redis-py and FastStream's brokers both read them: every client a service makes from
        this one URL trusts the same CA. Options already in `REDIS_URL`'s query win."""
        return self._with_tls_options(self.url or self._assembled_url())

    def _assembled_url(self) -> str:
        scheme = "rediss" if self.ssl else "redis"
        auth = ""
        if self.password is not None:
            user = quote(self.username or "", safe="")
            auth = f"{user}:{quote(self.password.get_secret_value(), safe='')}@"
        elif self.username:
            auth = f"{quote(self.username, safe='')}@"
        return f"{scheme}://{auth}{self.host}:{self.port}/{self.db}"

    def _with_tls_options(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "rediss":
            return url
        present = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        extra: list[tuple[str, str]] = []
        if self.ssl_ca_certs and "ssl_ca_certs" not in present:
            extra.append(("ssl_ca_certs", self.ssl_ca_certs))
        if self.ssl_cert_reqs != "required" and "ssl_cert_reqs" not in present:
            extra.append(("ssl_cert_reqs", self.ssl_cert_reqs))
        if not extra:
            return url
        query = "&".join(filter(None, [parts.query, urlencode(extra, safe="/")]))
        return parts._replace(query=query).geturl()

    @property
    def uses_tls(self) -> bool:
        return self.dsn.startswith("rediss://")

    def redacted_dsn(self) -> str:
        """The URL with any password masked, fit for a log line: in the authority or in a
        `?password=` query parameter (which redis-py also reads)."""
        parts = urlsplit(self.dsn)
        netloc, query = parts.netloc, parts.query
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", ":***@")
        if query:
            query = "&".join(
                "password=***" if pair.partition("=")[0] == "password" else pair
                for pair in query.split("&")
            )
        if (netloc, query) == (parts.netloc, parts.query):
            return self.dsn
        return parts._replace(netloc=netloc, query=query).geturl()


class CacheSettings(_Base):
    """Cache policy: TTL overrides per family, stale bound, leases, timeouts, the breaker."""

    model_config = SettingsConfigDict(env_prefix="CACHE_", env_file=".env", extra="ignore")

    enabled: bool = True
    # Cache hits answered in front of FastAPI (README, "The hit path"); false: every read is
    # routed through FastAPI (the benchmarks compare both).
    hit_path: bool = True
    # The writer's own fence and invalidation; off only for the TTL-only benchmark, where an
    # entry may then be served stale for up to its family TTL.
    invalidate_inline: bool = True
    # Write fences (README, "The fenced cache protocol"): how long a fence holds if its clear
    # is lost; a write must start committing `fence_commit_margin_seconds` before that, or it
    # is rolled back (503). `fence_timeout_seconds`: how long a write waits to place its fence.
    fence_seconds: float = Field(default=5.0, gt=0)
    fence_commit_margin_seconds: float = Field(default=1.0, ge=0)
    fence_timeout_seconds: float = Field(default=1.0, gt=0)
    # False: a write whose fence cannot be placed commits anyway (no 503). Other replicas may
    # then serve the previous value until the invalidator applies the write's event (its lag,
    # milliseconds; while it is down, up to the family TTL).
    fence_required: bool = True
    # Fields per entry (pages of a list, with their leases and marks); a user's standings.
    # A variant that finds its entry full is answered but not stored.
    max_entry_fields: int = Field(default=32, ge=4)
    max_standing_fields: int = Field(default=512, ge=4)
    # e.g. CACHE_TTL_SECONDS='{"ORGANIZATION_ANALYTICS": 3600}'; other families keep defaults.
    ttl_seconds: dict[str, int] = Field(default_factory=dict)
    stale_bound_seconds: int = Field(default=60, ge=0)
    # An entry served stale is recomputed once it is this old (at most half the bound): the
    # writes of that time cost one recompute, not one each.
    stale_refresh_seconds: float = Field(default=30.0, ge=0)
    lease_ms: int = Field(default=10_000, ge=100)
    stampede_wait_seconds: float = Field(default=2.0, gt=0)
    stampede_poll_seconds: float = Field(default=0.01, gt=0)
    operation_timeout_seconds: float = Field(default=0.5, gt=0)
    breaker_failure_threshold: int = Field(default=3, ge=1)
    breaker_reset_seconds: float = Field(default=1.0, gt=0)
    # Refresh-ahead (README, "Refresh-ahead"): after a write, entries read at least
    # `refresh_ahead_reads` times lately (of the `refresh_ahead_keys` this process watches) are
    # loaded again at once, at most `refresh_ahead_per_second` a second.
    refresh_ahead: bool = True
    refresh_ahead_keys: int = Field(default=1024, ge=16)
    refresh_ahead_reads: float = Field(default=3.0, ge=1)
    refresh_ahead_per_second: float = Field(default=20.0, gt=0)
    events_enabled: bool = True
    events_maxlen: int = Field(default=100_000, ge=1000)
    events_buffer: int = Field(default=10_000, ge=100)
    events_flush_seconds: float = Field(default=0.2, gt=0)

    @field_validator("ttl_seconds")
    @classmethod
    def _known_families(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - {f.value for f in Family}
        if unknown:
            raise ValueError(f"unknown cache families: {sorted(unknown)}")
        if any(v <= 0 for v in value.values()):
            raise ValueError("TTLs must be positive")
        return value

    @model_validator(mode="after")
    def _fence_outlives_its_margin(self) -> Self:
        if self.fence_commit_margin_seconds >= self.fence_seconds:
            raise ValueError("CACHE_FENCE_COMMIT_MARGIN_SECONDS must be below CACHE_FENCE_SECONDS")
        return self

    @property
    def young_server_seconds(self) -> int:
        """Whole seconds a Redis server, once started, grants no lease: it may have lost writes'
        fences, and every write fenced before it commits or rolls back within the fence period
        (README, "The fenced cache protocol")."""
        return math.ceil(self.fence_seconds)

    @property
    def refresh_spacing_ms(self) -> int:
        """How old an entry served stale is before its refresh starts."""
        return int(min(self.stale_refresh_seconds, self.stale_bound_seconds / 2) * 1000)

    def max_fields(self, family: Family) -> int:
        if family is Family.USER_PERMISSIONS:
            return self.max_standing_fields
        return self.max_entry_fields

    def ttl_ms(self, family: Family) -> int:
        seconds = self.ttl_seconds.get(family.value)
        return (seconds if seconds is not None else int(ttl_of(family).total_seconds())) * 1000


class OutboxSettings(_Base):
    """The API's outbox relay (database outbox -> domain-events stream): `OUTBOX_...`."""

    model_config = SettingsConfigDict(env_prefix="OUTBOX_", env_file=".env", extra="ignore")

    relay_enabled: bool = True
    batch_size: int = Field(default=500, ge=1, le=10_000)
    # LISTEN/NOTIFY wakes the relay at once; this poll is only the safety net.
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    # XADD MAXLEN ~: a consumer further behind than this loses the oldest events.
    stream_maxlen: int = Field(default=100_000, ge=100)
    publish_timeout_seconds: float = Field(default=2.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=2.0, gt=0)


class DatabaseSettings(_Base):
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/collabcache"
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_statement_timeout_ms: int = Field(default=10_000, ge=100)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the usual `postgresql://` / `postgres://` forms and use asyncpg."""
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        return f"postgresql+asyncpg://{rest}"

    def redacted_database_url(self) -> str:
        parts = urlsplit(self.database_url)
        if parts.password is None:
            return self.database_url
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


class AuthSettings(_Base):
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "collabcache"
    jwt_audience: str = "collabcache-api"
    jwt_ttl_seconds: int = Field(default=3600, ge=60)

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Self:
        secret = self.jwt_secret.get_secret_value()
        if self.is_production and (secret in PLACEHOLDER_SECRETS or len(secret) < 32):
            raise InsecureConfiguration(
                "JWT_SECRET must be set to a random value of at least 32 characters in production"
            )
        return self


class ApiSettings(AuthSettings, DatabaseSettings):
    """Everything the API service reads (Redis comes from `RedisSettings`)."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: Annotated[list[str] | None, NoDecode] = None
    max_comment_length: int = Field(default=10_000, ge=1)
    default_page_size: int = Field(default=50, ge=1, le=200)
    max_page_size: int = Field(default=200, ge=1, le=1000)
    # README, "Security". A request head (request line and headers) past this is answered 431.
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    # A body past this is answered 413: the largest legal body (a comment of
    # MAX_COMMENT_LENGTH astral characters, each JSON-escaped to 12 bytes) fits with room.
    max_body_bytes: int = Field(default=128 * 1024, ge=1024)
    # `Host` values served (`*.example.org` allows subdomains); any outside production,
    # required in production.
    allowed_hosts: Annotated[list[str] | None, NoDecode] = None
    # Peers whose X-Forwarded-For/-Proto are believed (comma-separated IPs or CIDRs, `*`):
    # none by default.
    forwarded_allow_ips: str = ""
    # uvicorn's line per request (thousands a minute under load): off unless asked for.
    access_log: bool = False
    # Worker processes sharing the port (README, "Running on more cores"): the default is what
    # measured best on a 2-core host with PostgreSQL and Redis beside it (docs/benchmarks.md).
    api_workers: int = Field(default=2, ge=1, le=64)
    # After SIGTERM, how long uvicorn waits for the requests in flight before cancelling them
    # and running the lifespan's shutdown (README, "Configuration").
    api_graceful_shutdown_seconds: int = Field(default=20, gt=0)
    # Warm the cache in the background after start, in one process of the deployment
    # (README, "Cache warming").
    api_warm_on_start: bool = False

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @property
    def served_hosts(self) -> list[str]:
        """What the API answers for; production serves only what ALLOWED_HOSTS names (the
        one-shot jobs, migrate and seed, serve nothing and need none)."""
        if self.allowed_hosts:
            return self.allowed_hosts
        if self.is_production:
            raise InsecureConfiguration(
                "ALLOWED_HOSTS must name the hosts this API serves in production"
            )
        return ["*"]

    @field_validator("cors_origins")
    @classmethod
    def _valid_origins(cls, value: list[str] | None) -> list[str] | None:
        for origin in value or []:
            if origin != "*":
                AnyUrl(origin)
        return value

    @property
    def allowed_origins(self) -> list[str]:
        """Configured origins; localhost dev origins outside production, none in production."""
        if self.cors_origins is not None:
            return self.cors_origins
        return [] if self.is_production else list(DEV_CORS_ORIGINS)


class WorkerSettings(_Base):
    """HTTP side of the stream workers (invalidator, metrics): health and metrics endpoints."""

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8001, ge=1, le=65535)
    access_log: bool = False  # a line per probe and scrape: off unless asked for


class InvalidatorSettings(WorkerSettings):
    """The invalidator: `INVALIDATOR_HTTP_HOST`, `INVALIDATOR_HTTP_PORT`, `INVALIDATOR_...`."""

    model_config = SettingsConfigDict(env_prefix="INVALIDATOR_", env_file=".env", extra="ignore")

    http_port: int = Field(default=8001, ge=1, le=65535)
    # A message delivered this many times without succeeding goes to the dead-letter stream.
    max_deliveries: int = Field(default=5, ge=1)
    # A message pending this long (its consumer died or failed) is claimed by a live consumer.
    claim_idle_ms: int = Field(default=30_000, ge=10)
    claim_interval_seconds: float = Field(default=1.0, gt=0)
    # Entries per XREADGROUP / XAUTOCLAIM (a batch costs a few commands, whatever its size).
    batch_size: int = Field(default=500, ge=1, le=10_000)
    dead_letter_maxlen: int = Field(default=100_000, ge=1)
    # The invalidator's own Redis commands (never on a request path) may wait this long.
    redis_socket_timeout: float = Field(default=2.0, gt=0)
    # One `InvalidationApplied` per applied event to the invalidations stream (XADD MAXLEN ~),
    # for the metrics service; sent with the acknowledgement, dropped rather than ever failing.
    reports_enabled: bool = True
    reports_maxlen: int = Field(default=100_000, ge=100)


class MetricsSettings(WorkerSettings):
    """The metrics service: `METRICS_HTTP_HOST`, `METRICS_HTTP_PORT`, `METRICS_...`."""

    model_config = SettingsConfigDict(env_prefix="METRICS_", env_file=".env", extra="ignore")

    http_port: int = Field(default=8002, ge=1, le=65535)
    # Entries per XREADGROUP / XAUTOCLAIM: each batch is folded and acknowledged in one MULTI.
    batch_size: int = Field(default=500, ge=1, le=10_000)
    # A batch pending this long (its consumer died or failed) is claimed by a live consumer.
    claim_idle_ms: int = Field(default=30_000, ge=100)
    claim_interval_seconds: float = Field(default=1.0, gt=0)
    # /stats, /report and /metrics share one snapshot of the aggregates for this long.
    snapshot_cache_seconds: float = Field(default=1.0, ge=0)
    # The service's own Redis commands (never on a request path) may wait this long.
    redis_socket_timeout: float = Field(default=2.0, gt=0)
    # When set, /stats, /report, /metrics and the dashboard's data ask for
    # `Authorization: Bearer <token>` (README, "Security"); /health and /ready never do.
    token: SecretStr | None = None
