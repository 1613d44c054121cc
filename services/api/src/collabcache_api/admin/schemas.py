"""The cache metrics an admin sees: figures read from the metrics aggregates in Redis (the ones
the metrics service folds from cache events), in the camelCase the admin console expects."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class LatencyFigures(_Camel):
    mean: float
    p50: float
    p95: float
    p99: float


class CachePerformance(_Camel):
    """Every cache lookup of the window, all endpoints together."""

    window: str
    requests: int
    hits: int
    misses: int
    bypasses: int
    stale: int
    hit_rate: float  # HIT or STALE, over requests
    miss_rate: float
    requests_per_second: float
    latency_ms: LatencyFigures
    bytes: int


class RedisFigures(_Camel):
    memory: int  # used_memory, bytes
    connected_clients: int
    commands_processed: int
    uptime: int  # seconds


class TopEndpoint(_Camel):
    endpoint: str  # a route template
    requests: int
    hit_rate: float
    p95_ms: float


class CacheActivity(_Camel):
    at_ms: int
    endpoint: str
    family: str
    outcome: str
    latency_ms: float


class CacheMetrics(_Camel):
    performance: CachePerformance
    redis: RedisFigures
    top_endpoints: list[TopEndpoint]
    recent_activity: list[CacheActivity]


class CacheMetricsResponse(BaseModel):
    success: bool = True
    data: CacheMetrics
