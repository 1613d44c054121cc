"""The analytics target is judged on wrk's p50s where wrk ran (bench.cache_latency), else on
the Python client's."""

from __future__ import annotations

from bench.load.targets import ANALYTICS, latency_targets

ROW = {
    "endpoint": ANALYTICS,
    "cached_p50_ms": 1.0,
    "uncached_p50_ms": 15.0,
    "cached_quiet_p50_ms": 1.0,
}


def _analytics(row: dict[str, object]) -> tuple[str | None, bool | None]:
    target = latency_targets({"rows": [row]})[0]
    return target["measured"], target["met"]


def test_without_wrk_the_python_clients_p50s_count() -> None:
    assert _analytics(ROW) == ("15.0x (1.0 vs 15.0 ms, httpx)", False)


def test_with_wrk_its_p50s_count() -> None:
    row = {**ROW, "cached_wrk_p50_ms": 0.4, "uncached_wrk_p50_ms": 9.0}
    assert _analytics(row) == ("22.5x (0.4 vs 9.0 ms, wrk)", True)
