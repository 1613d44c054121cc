"""The benchmarks still run: each module's `--smoke` mode (a few seconds, nothing written to
bench/results/), as `make bench` runs them. No figure is asserted: the machine decides those."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_SECONDS = 240

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(SMOKE_TIMEOUT_SECONDS + 30)]

# module -> the line its report must print
BENCHES = {
    "bench.cache_latency": "Redis round trips per cache hit",
    "bench.invalidation_lag": "| steady |",
}


@pytest.mark.parametrize("module", sorted(BENCHES))
def test_the_benchmark_runs_in_smoke_mode(module: str, servers: dict[str, str]) -> None:
    if module == "bench.invalidation_lag" and shutil.which("redis-server") is None:
        pytest.skip("the invalidation-lag benchmark runs a redis-server of its own")
    results = ROOT / "bench" / "results"
    before = set(results.iterdir()) if results.exists() else set()
    env = {**os.environ, "DATABASE_URL": servers["postgres"], "REDIS_URL": servers["redis"]}
    done = subprocess.run(
        [sys.executable, "-m", module, "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert BENCHES[module] in done.stdout, done.stdout[-3000:]
    after = set(results.iterdir()) if results.exists() else set()
    assert {p for p in after - before if p.name.startswith(module.split(".")[1])} == set()
