"""The benchmarks still run: each module's `--smoke` mode (a few seconds, nothing written to
bench/results/), the orchestrator `bench.run --profile smoke` (what `make bench` runs at the
quick profile) with its load scenarios, and the renderer of docs/benchmarks.md on its result.
No figure is asserted: the machine decides those."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_SECONDS = 240

pytestmark = pytest.mark.timeout(SMOKE_TIMEOUT_SECONDS + 30)

# module -> (its smoke flags, the tools it needs, lines its report must print)
BENCHES = {
    "bench.cache_latency": (("--smoke",), (), ("Redis round trips per cache hit",)),
    "bench.invalidation_lag": (("--smoke",), ("redis-server",), ("| steady |",)),
    "bench.write_latency": (
        ("--requests", "8"),
        (),
        ("| organization rename, fenced |", "Redis round trips per comment edit (fenced): 2.00"),
    ),
    "bench.ceiling": (
        ("--profile", "smoke"),
        ("wrk", "redis-server"),
        ("| bare Redis GET |", "Ratio cached / bare:"),
    ),
    "bench.request_cpu": (("--smoke",), ("redis-server",), ("| hit |", "| miss |", "| write |")),
    "bench.memory": (
        ("--profile", "smoke"),
        ("redis-server",),
        ("| USER_PERMISSIONS |", "target < 1 GB:"),
    ),
    "bench.memory_100k": (
        ("--profile", "smoke"),
        ("redis-server",),
        ("| USER_PERMISSIONS |", "users served 300 of 300", "after the replay: "),
    ),
}


@pytest.mark.parametrize("module", sorted(BENCHES))
def test_the_benchmark_runs_in_smoke_mode(module: str, servers: dict[str, str]) -> None:
    flags, tools, lines = BENCHES[module]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{module} needs {', '.join(missing)}")
    results = ROOT / "bench" / "results"
    before = set(results.iterdir()) if results.exists() else set()
    env = {**os.environ, "DATABASE_URL": servers["postgres"], "REDIS_URL": servers["redis"]}
    done = subprocess.run(
        [sys.executable, "-m", module, *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for line in lines:
        assert line in done.stdout, done.stdout[-3000:]
    after = set(results.iterdir()) if results.exists() else set()
    assert {p for p in after - before if p.name.startswith(module.split(".")[1])} == set()


# The orchestrator: its load scenarios in smoke mode (the focused benchmarks above have their
# own smoke tests), then the renderer on that result. Slower: four variants' processes.
ORCHESTRATOR_TIMEOUT_SECONDS = 420


@pytest.fixture(scope="module")
def orchestrated(
    servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path, set[Path]]:
    if shutil.which("redis-server") is None:
        pytest.skip("the load benchmark runs a redis-server per variant")
    results = ROOT / "bench" / "results"
    before = set(results.iterdir()) if results.exists() else set()
    output = tmp_path_factory.mktemp("bench") / "smoke.json"
    env = {**os.environ, "DATABASE_URL": servers["postgres"], "REDIS_URL": servers["redis"]}
    command = [sys.executable, "-m", "bench.run", "--profile", "smoke", "--parts", "load"]
    done = subprocess.run(
        [*command, "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=ORCHESTRATOR_TIMEOUT_SECONDS,
    )
    after = set(results.iterdir()) if results.exists() else set()
    return done, output, {p for p in after - before if p.name.startswith("bench-")}


@pytest.mark.timeout(ORCHESTRATOR_TIMEOUT_SECONDS + 60)
def test_the_orchestrator_runs_every_variant_and_prints_its_tables(
    orchestrated: tuple[subprocess.CompletedProcess[str], Path, set[Path]],
) -> None:
    done, output, written = orchestrated
    assert done.returncode == 0, done.stderr[-3000:]
    for heading in ("## Load, after warming", "## Phases", "## Stale reads", "## Targets"):
        assert heading in done.stdout, done.stdout[-3000:]
    for variant in ("| collabcache |", "| cache-off |", "| ttl-only |", "| fastapi-cache2 |"):
        assert variant in done.stdout, done.stdout[-3000:]
    assert output.exists()
    assert written == set()  # smoke keeps nothing in bench/results/


@pytest.mark.timeout(ORCHESTRATOR_TIMEOUT_SECONDS + 60)
def test_the_renderer_makes_the_page_and_its_plots(
    orchestrated: tuple[subprocess.CompletedProcess[str], Path, set[Path]], tmp_path: Path
) -> None:
    done, output, _ = orchestrated
    assert done.returncode == 0, done.stderr[-3000:]
    rendered = subprocess.run(
        [sys.executable, "-m", "bench.report", str(output), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    page = (tmp_path / "benchmarks.md").read_text()
    for section in ("## Targets", "## Variants, after warming", "## Stale reads"):
        assert section in page
    for figure in ("latency", "warming", "throughput"):
        assert (tmp_path / "bench" / f"{figure}.png").stat().st_size > 0
        assert f"(bench/{figure}.png)" in page
