"""The load bench's CPU table: the cores the host took during a phase (steal time) are
reported beside the cores busy, never as a process, and a phase with some is said to be a busy
machine's."""

from __future__ import annotations

from typing import Any

import pytest

from bench.load import cpu


def _load(figures: dict[str, float]) -> dict[str, Any]:
    overall = {"cpu_seconds": figures, "throughput_per_s": 200.0, "p99_ms": 20.0}
    return {
        "variants": {"collabcache": {"phases": {"peak": {"rate_per_s": 200, "overall": overall}}}}
    }


def test_the_cores_the_host_took_are_measured_beside_the_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steal = iter([100.0, 103.0])  # seconds of steal time, summed over CPUs
    monkeypatch.setattr(cpu, "_stolen", lambda: next(steal))
    meter = cpu.CpuMeter(lambda: {}, "no-such-database")
    meter.start()
    figures = meter.stop(10.0)
    assert figures["cores stolen"] == 0.3

    row = cpu.table(_load(figures)).splitlines()[-1]
    assert row.startswith(f"| collabcache | peak | {figures['cores busy']} | 0.3 |")
    assert "stolen" not in row
    limit = cpu.limits(_load(figures), cores=2)[0]
    assert "The host took 0.3 cores meanwhile" in limit
    assert "stolen" not in limit.split("CPU by process:")[1]


def test_a_phase_the_host_left_alone_says_nothing_of_it() -> None:
    figures = {"api": 1.0, "cores busy": 0.1, "cores stolen": 0.0}
    assert "host" not in cpu.limits(_load(figures), cores=2)[0]
