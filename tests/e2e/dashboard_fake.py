"""A stand-in for the metrics service's HTTP side, to develop and test the dashboard against.

Serves the dashboard (`/` and `/static/`), a `/stats` that follows the metrics service's
contract, with numbers that change on every call, and a `/history` of the last ten minutes made
up the same way. `mode` switches between steady traffic, an idle system (every window empty, no
history) and failing answers (503); tests set it on the object, a developer with
`PUT /_fake/mode/{traffic|idle|failing}`.

    uv run python -m tests.e2e.dashboard_fake --port 8002
"""

from __future__ import annotations

import argparse
import math
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from collabcache_shared.clock import now_ms

STATIC_DIR = Path(__file__).resolve().parents[2] / "services/metrics/src/collabcache_metrics/static"
MODES = ("traffic", "idle", "failing")
WINDOW_SECONDS = {"1m": 60, "5m": 300, "1h": 3600}
HISTORY_SECONDS, HISTORY_STEP, PER_SECOND_HISTORY = 600, 5, 240  # as the service's /history

# (route template, cache family, share of the traffic, usual hit rate)
ENDPOINTS = [
    ("/api/organizations/{org_id}/members", "ORGANIZATION_MEMBERS", 0.28, 0.93),
    ("/api/collaboration/studies/{study_id}/comments", "STUDY_COMMENTS", 0.20, 0.81),
    ("/api/organizations", "USER_ORGANIZATIONS", 0.16, 0.95),
    ("/api/collaboration/studies/{study_id}/activity", "STUDY_ACTIVITY", 0.13, 0.74),
    ("/api/organizations/{org_id}/analytics", "ORGANIZATION_ANALYTICS", 0.10, 0.88),
    ("/api/teams/{team_id}/members", "TEAM_MEMBERS", 0.08, 0.90),
    ("/api/admin/system-stats", "SYSTEM_STATS", 0.05, 0.97),
]


def _latency(hit_rate: float, rng: random.Random) -> dict[str, float]:
    p50 = (0.6 + 4.0 * (1 - hit_rate)) * rng.uniform(0.9, 1.1)
    return {
        "mean": round(p50 * 1.3, 3),
        "p50": round(p50, 3),
        "p95": round(p50 * rng.uniform(3.0, 4.0), 3),
        "p99": round(p50 * rng.uniform(6.0, 9.0), 3),
    }


def _figures(requests: int, seconds: int, hit_rate: float, rng: random.Random) -> dict[str, Any]:
    if requests == 0:
        latency = {"mean": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0}
        return {
            "requests": 0,
            "hits": 0,
            "misses": 0,
            "bypasses": 0,
            "stale": 0,
            "hit_rate": 0.0,
            "miss_rate": 0.0,
            "requests_per_second": 0.0,
            "latency_ms": latency,
            "bytes": 0,
        }
    hits = round(requests * hit_rate)
    stale = min(requests - hits, round(requests * 0.01))
    misses = requests - hits - stale
    return {
        "requests": requests,
        "hits": hits,
        "misses": misses,
        "bypasses": 0,
        "stale": stale,
        "hit_rate": hits / requests,
        "miss_rate": misses / requests,
        "requests_per_second": round(requests / seconds, 3),
        "latency_ms": _latency(hits / requests, rng),
        "bytes": requests * rng.randint(800, 4000),
    }


class FakeStats:
    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.mode = "traffic"
        self.started = time.monotonic()

    def requests_per_second(self) -> float:
        if self.mode == "idle":
            return 0.0
        elapsed = time.monotonic() - self.started
        return max(0.0, 40 + 15 * math.sin(elapsed / 20) + self.rng.uniform(-4, 4))

    def window(self, seconds: int, total_rps: float) -> dict[str, Any]:
        endpoints: dict[str, Any] = {}
        for template, _family, share, hit_rate in ENDPOINTS:
            requests = round(total_rps * share * seconds * self.rng.uniform(0.8, 1.2))
            rate = min(1.0, hit_rate + self.rng.uniform(-0.05, 0.04))
            if requests:
                endpoints[template] = _figures(requests, seconds, rate, self.rng)
        requests = sum(e["requests"] for e in endpoints.values())
        hits = sum(e["hits"] for e in endpoints.values())
        overall = _figures(requests, seconds, hits / requests if requests else 0.0, self.rng)
        return {"overall": overall, "endpoints": endpoints}

    def snapshot(self) -> dict[str, Any]:
        rps = self.requests_per_second()
        windows = {name: self.window(seconds, rps) for name, seconds in WINDOW_SECONDS.items()}
        busiest = sorted(windows["5m"]["endpoints"].items(), key=lambda kv: -kv[1]["requests"])
        elapsed = time.monotonic() - self.started
        invalidations = 0 if self.mode == "idle" else self.rng.randint(20, 90)
        return {
            "generated_at": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "windows": windows,
            "top_endpoints": [
                {
                    "endpoint": name,
                    "requests": f["requests"],
                    "hit_rate": f["hit_rate"],
                    "p95_ms": f["latency_ms"]["p95"],
                }
                for name, f in busiest[:10]
            ],
            "recent_activity": self.recent_activity(rps),
            "invalidation": {
                "per_second": round(invalidations / 60, 3),
                "count_1m": invalidations,
                "lag_ms": {
                    "p50": round(self.rng.uniform(4, 12), 3) if invalidations else 0.0,
                    "p95": round(self.rng.uniform(20, 40), 3) if invalidations else 0.0,
                    "p99": round(self.rng.uniform(40, 90), 3) if invalidations else 0.0,
                },
            },
            "redis": {
                "used_memory": int(1_800_000 + 3_000 * elapsed + self.rng.randint(0, 40_000)),
                "keys": 1200 + int(elapsed * 2),
                "evicted_keys": 0,
                "expired_keys": int(elapsed / 5),
                "connected_clients": 6,
                "commands_processed": int(50_000 + elapsed * rps * 4),
                "uptime_seconds": int(3600 + elapsed),
                "keyspace_hits": int(elapsed * rps * 0.9),
                "keyspace_misses": int(elapsed * rps * 0.1),
            },
            "streams": {
                "cache_events": {
                    "length": int(elapsed * rps),
                    "lag": self.rng.randint(0, 30),
                    "pending": self.rng.randint(0, 5),
                },
                "domain_events": {"length": int(elapsed * 2), "lag": 0, "pending": 0},
            },
        }

    def history(self) -> dict[str, Any]:
        """Points every 5 s over the last four minutes, one a minute before, as the service's."""
        now = int(time.time())
        minutes = [60 * m + 59 for m in range((now - HISTORY_SECONDS) // 60, now // 60)]
        recent = range(now - PER_SECOND_HISTORY, now + 1, HISTORY_STEP)
        times = [t for t in minutes if now - HISTORY_SECONDS < t < recent[0]] + list(recent)
        rps = 0.0 if self.mode == "idle" else 40.0
        return {
            "generated_at": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "span_seconds": HISTORY_SECONDS,
            "point_seconds": 60,
            "points": [] if rps == 0 else [self.history_point(t, now, rps) for t in times],
        }

    def history_point(self, at: int, now: int, rps: float) -> dict[str, Any]:
        rps = max(0.0, rps + 15 * math.sin((at - now) / 20) + self.rng.uniform(-4, 4))
        window = self.window(60, rps)
        overall = window["overall"]
        invalidations = self.rng.randint(20, 90)
        return {
            "at_ms": at * 1000,
            "requests": overall["requests"],
            "hit_rate": overall["hit_rate"],
            "requests_per_second": overall["requests_per_second"],
            "latency_ms": {p: overall["latency_ms"][p] for p in ("p50", "p95", "p99")},
            "endpoints": {
                name: figures["requests_per_second"]
                for name, figures in window["endpoints"].items()
            },
            "invalidations": invalidations,
            "invalidation_lag_ms": {
                "p50": round(self.rng.uniform(4, 12), 3),
                "p95": round(self.rng.uniform(20, 40), 3),
                "p99": round(self.rng.uniform(40, 90), 3),
            },
        }

    def recent_activity(self, rps: float) -> list[dict[str, Any]]:
        if rps == 0:
            return []
        now = now_ms()
        events = []
        for index in range(20):
            template, family, _share, hit_rate = self.rng.choice(ENDPOINTS)
            outcome = "HIT" if self.rng.random() < hit_rate else "MISS"
            latency = self.rng.uniform(0.3, 1.5) if outcome == "HIT" else self.rng.uniform(3, 15)
            events.append(
                {
                    "at_ms": now - index * 37,
                    "endpoint": template,
                    "family": family,
                    "outcome": outcome,
                    "latency_ms": round(latency, 3),
                }
            )
        return events


def create_app(fake: FakeStats | None = None) -> Starlette:
    fake = fake or FakeStats()

    async def index(_request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html")

    async def stats(_request: Request) -> Response:
        if fake.mode == "failing":
            return JSONResponse({"detail": "aggregator unavailable"}, status_code=503)
        return JSONResponse(fake.snapshot())

    async def history(_request: Request) -> Response:
        if fake.mode == "failing":
            return JSONResponse({"detail": "aggregator unavailable"}, status_code=503)
        return JSONResponse(fake.history())

    async def set_mode(request: Request) -> Response:
        mode = request.path_params["mode"]
        if mode not in MODES:
            return JSONResponse({"detail": f"mode must be one of {MODES}"}, status_code=422)
        fake.mode = mode
        return JSONResponse({"mode": mode})

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/stats", stats),
            Route("/history", history),
            Route("/_fake/mode/{mode}", set_mode, methods=["PUT"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )
    app.state.fake = fake
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
