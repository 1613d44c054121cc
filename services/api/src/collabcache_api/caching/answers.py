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

CACHE_CONTROL = b"private, no-cache"
JSON_TYPE = (b"content-type", b"application/json")


def cached_response(result: Result, if_none_match: str | None) -> Response:
    status, headers, body = raw_answer(result, if_none_match)
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


def raw_answer(
    result: Result, if_none_match: str | None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The status, headers and body of the answer (the headers a fresh list, as a Starlette
    `Response` with `media_type="application/json"` would send them)."""
    etag = f'"{result.etag}"'
    headers = [
        (b"etag", etag.encode("latin-1")),
        (b"x-cache", result.outcome.value.encode("latin-1")),
        (b"cache-control", CACHE_CONTROL),
    ]
    if result.age_s is not None:
        headers.append((b"age", b"%d" % result.age_s))
    if if_none_match and _matches(if_none_match, etag):
        return 304, headers, b""
    headers += [(b"content-length", b"%d" % len(result.body)), JSON_TYPE]
    return 200, headers, result.body


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
