"""What the environment says about tracing and logging: the standard OpenTelemetry variables
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_SERVICE_NAME`,
`OTEL_SDK_DISABLED`) and `LOG_FORMAT` / `LOG_LEVEL`.

The exporter reads its other standard variables itself (`OTEL_EXPORTER_OTLP_HEADERS`,
`OTEL_EXPORTER_OTLP_TIMEOUT`...), and the batch span processor its own (`OTEL_BSP_*`).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..settings import Environment

TRACES_PATH = "/v1/traces"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class TelemetrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_file_encoding="utf-8")

    environment: Environment = Field(
        default=Environment.DEVELOPMENT, validation_alias="environment"
    )
    # The collector's base URL (`/v1/traces` is appended), as the OpenTelemetry spec reads it.
    otlp_endpoint: str | None = Field(default=None, validation_alias="otel_exporter_otlp_endpoint")
    # The traces URL itself, used as given; wins over the base URL.
    otlp_traces_endpoint: str | None = Field(
        default=None, validation_alias="otel_exporter_otlp_traces_endpoint"
    )
    sdk_disabled: bool = Field(default=False, validation_alias="otel_sdk_disabled")
    service_name: str | None = Field(default=None, validation_alias="otel_service_name")
    # None: JSON in production, text elsewhere.
    log_format: LogFormat | None = Field(default=None, validation_alias="log_format")
    log_level: str = Field(default="INFO", validation_alias="log_level")

    @field_validator(
        "otlp_endpoint", "otlp_traces_endpoint", "service_name", "log_format", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `OTEL_EXPORTER_OTLP_ENDPOINT=` (a compose file's `${VAR:-}`) means "not configured".
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper() or "INFO"

    @property
    def traces_endpoint(self) -> str | None:
        """Where spans go (OTLP over HTTP/protobuf), or None: tracing is off."""
        if self.sdk_disabled:
            return None
        if self.otlp_traces_endpoint:
            return self.otlp_traces_endpoint
        if self.otlp_endpoint:
            return self.otlp_endpoint.rstrip("/") + TRACES_PATH
        return None

    @property
    def resolved_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.environment is Environment.PRODUCTION else LogFormat.TEXT
