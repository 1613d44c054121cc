"""Helpers for the dashboard's browser tests: the browser, in-thread servers (the metrics service
itself among them), past traffic, canvas reading."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import redis
import uvicorn

from collabcache_metrics.bootstrap import build
from collabcache_metrics.main import app_of
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.reporting import DATA_FIELD
from collabcache_shared.events import (
    CACHE_EVENTS_STREAM,
    INVALIDATION_EVENTS_STREAM,
    CacheEvent,
    InvalidationApplied,
)
from collabcache_shared.settings import MetricsSettings, RedisSettings
from tests.redis_keys import drop_keys

# Debian's Chromium (apt-get install chromium); Playwright's own browser downloads are not used.
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """An ASGI app served by uvicorn in a daemon thread on a free port, for a `with` block."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT_SECONDS)


@contextmanager
def metrics_service(redis_url: str, prefix: str, settings: MetricsSettings) -> Iterator[str]:
    """The metrics service (in this process, its keys under `prefix`), then its keys removed."""
    service = build(RedisSettings(url=redis_url, key_prefix=prefix), settings)
    try:
        with ServerThread(app_of(service)) as url:
            yield url
    finally:
        drop_keys(redis_url, prefix)


PAST_ENDPOINTS = ("/api/organizations/{org_id}/members", "/api/organizations")


def publish_past_traffic(redis_url: str, prefix: str, seconds: int) -> int:
    """Lookups every 10 s and an invalidation every 30 s over the last `seconds`, as the API and
    the invalidator would have published them; returns how many lookups."""
    keyspace, now = KeySpace(prefix=prefix), int(time.time())
    lookups = [
        CacheEvent(
            at_ms=at * 1000 + i,
            endpoint=PAST_ENDPOINTS[i % 2],
            family="F",
            outcome="MISS" if i == 0 else "HIT",
            latency_ms=0.5 + i + (at % 7),
            size=100,
        )
        for at in range(now - seconds, now, 10)
        for i in range(4)
    ]
    applied = [
        InvalidationApplied(at_ms=at * 1000, event_type="comment.changed.v1", keys=1, lag_ms=8.0)
        for at in range(now - seconds, now, 30)
    ]
    client = redis.Redis.from_url(redis_url)
    pipe = client.pipeline(transaction=False)
    for stream, events in ((CACHE_EVENTS_STREAM, lookups), (INVALIDATION_EVENTS_STREAM, applied)):
        for event in events:
            pipe.xadd(keyspace.stream(stream), {DATA_FIELD: event.model_dump_json()})
    pipe.execute()
    client.close()
    return len(lookups)


def wait_for_lookups(url: str, count: int) -> None:
    """Until the service has counted `count` lookups in the last hour."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        stats = httpx.get(f"{url}/stats", timeout=5).json()
        if stats["windows"]["1h"]["overall"]["requests"] >= count:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the service did not count {count} lookups in time")


_COUNT_PIXELS = """([figureId, hex]) => {
  const canvas = document.querySelector(`#${figureId} canvas`);
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) count++;
  }
  return count;
}"""


def drawn_pixels(page: Any, figure_id: str, hex_color: str) -> int:
    """How many opaque pixels of exactly this color a chart's canvas holds (a drawn line)."""
    return int(page.evaluate(_COUNT_PIXELS, [figure_id, hex_color]))
