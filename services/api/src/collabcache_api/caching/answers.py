"""A cached read's answer, the same from FastAPI's endpoints and from the hit path: `X-Cache`,
a strong `ETag` (the stored content hash), `Cache-Control: private, no-cache`, `Age` when
served stale, 304 for a matching `If-None-Match` (weak comparison); and its cache event for
the metrics service.
"""

from __future__ import annotations

import time

from opentelemetry import trace
from starlette.responses import Response

from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.cache.manager import Result
from collabcache_shared.cache.reporting import CacheEventSink

CACHE_CONTROL = "private, no-cache"


def cached_response(result: Result, if_none_match: str | None) -> Response:
    etag = f'"{result.etag}"'
    headers = {"ETag": etag, "X-Cache": result.outcome.value, "Cache-Control": CACHE_CONTROL}
    if result.age_s is not None:
        headers["Age"] = str(result.age_s)
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(result.body, media_type="application/json", headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110, 13.1.2): `*`, or a listed tag that is ours
    once a `W/` prefix is set aside."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def note_lookup(
    sink: CacheEventSink | None, endpoint: str, key: CacheKey, result: Result, started: float
) -> None:
    """The outcome on the request's span (when tracing) and a cache event (when reporting)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("cache.result", result.outcome.value.lower())
        span.set_attribute("cache.family", key.family.value)
    if sink is not None:
        latency_ms = (time.perf_counter() - started) * 1000
        sink.record(endpoint, key.family.value, result.outcome.value, latency_ms, len(result.body))
