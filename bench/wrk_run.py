"""Running wrk (on PATH; Debian: `apt-get install wrk`) and reading its figures as JSON.

A small Lua `done` hook prints one line of JSON (requests, duration, errors by kind, latency
percentiles in microseconds), so nothing depends on wrk's human-readable summary.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import processes, tools

WRK = tools.path("wrk")
MARK = "WRK_JSON "
DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,'
    .. '"write_errors":%d,"non_2xx_3xx":%d,"timeouts":%d,"latency_mean_us":%.1f,'
    .. '"latency_p50_us":%d,"latency_p90_us":%d,"latency_p99_us":%d,"latency_max_us":%d}\\n',
    'WRK_JSON ', summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    """How hard and how long wrk pushes: the same for every server it is compared on."""

    connections: int
    threads: int
    seconds: float


def wrk_available() -> bool:
    return shutil.which(WRK) is not None


def _figures(run: dict[str, Any]) -> dict[str, Any]:
    seconds = run["duration_us"] / 1e6
    errors = sum(run[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return {
        "requests": run["requests"],
        "seconds": round(seconds, 3),
        "requests_per_s": round(run["requests"] / seconds, 1) if seconds else 0.0,
        "non_2xx_3xx": run["non_2xx_3xx"],
        "socket_errors": errors,
        "latency_mean_ms": round(run["latency_mean_us"] / 1000, 3),
        "latency_p50_ms": round(run["latency_p50_us"] / 1000, 3),
        "latency_p90_ms": round(run["latency_p90_us"] / 1000, 3),
        "latency_p99_ms": round(run["latency_p99_us"] / 1000, 3),
        "latency_max_ms": round(run["latency_max_us"] / 1000, 3),
    }


async def run_wrk(url: str, load: Load, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One wrk run against `url`; its figures (requests/s, errors, latency in ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as hook:
        hook.write(DONE_HOOK)
    cmd = [WRK, "-t", str(load.threads), "-c", str(load.connections)]
    cmd += ["-d", f"{max(1, round(load.seconds))}s", "--timeout", "5s", "-s", hook.name]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    try:
        out, err = await processes.output(*cmd, url)
    finally:
        await asyncio.to_thread(Path(hook.name).unlink, missing_ok=True)
    for line in out.decode().splitlines():
        if line.startswith(MARK):
            return _figures(json.loads(line[len(MARK) :]))
    raise RuntimeError(f"wrk printed no figures: {out.decode()[-500:]} {err.decode()[-500:]}")
