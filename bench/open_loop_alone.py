"""A hit and the bare Redis-GET app timed by the load benchmark's open-loop generator, each
alone on the machine at the peak's rate (`bench.ceiling` runs it on its stack): what the
generator and one uvicorn process measure when nothing else runs, the floor under the load
benchmark's `cached GET p99` (docs/benchmarks.md)."""

from __future__ import annotations

import uuid
from typing import Any

from bench.ceiling_stack import Stack
from bench.load.generator import OpenLoop, Tokens
from bench.load.workload import Call
from bench.support import percentile

RATE = 200.0  # the quick and full profiles' peak


class FixedHeaders(Tokens):
    """The same headers for every call (the stack's seeded owner, or none)."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__()
        self.headers = headers

    def header(self, user: uuid.UUID) -> dict[str, str]:
        return self.headers


class Repeat:
    """A mix of one GET."""

    def __init__(self, path: str) -> None:
        self.call = Call("GET " + path, "GET", path, uuid.UUID(int=0))

    def next(self) -> Call:
        return self.call


async def _timed(url: str, path: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    loop = OpenLoop(url, "x-cache", FixedHeaders(headers), None)
    try:
        samples = await loop.run(Repeat(path), RATE, seconds)  # type: ignore[arg-type]
    finally:
        await loop.aclose()
    latencies = [s.latency_ms for s in samples]  # a failed request counts, as in the load
    return {
        "requests": len(samples),
        "not_200": sum(s.status != 200 for s in samples),
        "hits": sum(s.cache == "HIT" for s in samples),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


async def measure(stack: Stack, seconds: float) -> dict[str, Any]:
    """Each app at `RATE` for `seconds`, the bare one first: p50 and p99 from the scheduled send."""
    bare = await _timed(stack.bare.url, "/get", {}, seconds)
    cached = await _timed(stack.cached.url, stack.path, stack.headers, seconds)
    return {"rate_per_s": RATE, "seconds": seconds, "bare": bare, "cached": cached}
