"""Who ate the cores: CPU seconds of each process of a load run, per phase (docs/benchmarks.md,
"What limits each phase").

A `CpuMeter` names the processes by role (the API and its worker processes, the invalidator,
Redis, the oracle API and its Redis, the load generator, PostgreSQL) and reads their CPU time
(user + system, from the kernel) at a phase's start and end. The outbox relay runs inside an API
process, so its CPU is the API's. PostgreSQL's backends serving the run's database are told
apart from the rest of the server (its background processes, and whoever else uses it: on a
machine shared with other work that share is not the benchmark's).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import psutil

Roles = dict[str, list[int]]


def tree(pid: int | None) -> list[int]:
    """A process and its descendants (uvicorn's worker processes), as pids."""
    if pid is None:
        return []
    try:
        process = psutil.Process(pid)
        return [pid, *(child.pid for child in process.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def _seconds(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
    return total


def _postgres(database: str) -> tuple[list[int], list[int]]:
    """PostgreSQL's processes: those serving `database` (their title names it), and the rest."""
    ours: list[int] = []
    rest: list[int] = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] not in ("postgres", "postmaster"):
            continue
        title = " ".join(process.info["cmdline"] or ())
        (ours if f" {database} " in f"{title} " else rest).append(process.pid)
    return ours, rest


def _stolen() -> float:
    """CPU seconds the hypervisor ran something else while this machine's CPUs had work (the
    kernel's steal time, summed over CPUs; 0 where it is not reported)."""
    return float(getattr(psutil.cpu_times(), "steal", 0.0))


STOLEN_NOTED = 0.05  # cores the host took during a phase, from which it is said


class CpuMeter:
    """`roles()` names the pids of each role when asked (workers come and go); `database`: the
    run's PostgreSQL database."""

    def __init__(self, roles: Callable[[], Roles], database: str) -> None:
        self._roles = roles
        self._database = database
        self._start: dict[str, float] = {}
        self._stolen = 0.0

    def _read(self) -> dict[str, float]:
        roles = {**self._roles(), "load generator": [os.getpid()]}
        ours, rest = _postgres(self._database)
        roles["postgresql (this database)"] = ours
        roles["postgresql (server, other databases)"] = rest
        return {role: _seconds(pids) for role, pids in roles.items()}

    def start(self) -> None:
        self._start = self._read()
        self._stolen = _stolen()

    def stop(self, seconds: float) -> dict[str, float]:
        """CPU seconds per role since `start`, and the share of the machine's cores they used
        over the phase's `seconds` (`cores busy`); and the cores the host took meanwhile
        (`cores stolen`: a figure taken then is a busy machine's)."""
        end = self._read()
        stolen = _stolen() - self._stolen
        used = {role: max(0.0, end[role] - self._start.get(role, end[role])) for role in end}
        figures = {role: round(value, 2) for role, value in used.items()}
        figures["cores busy"] = round(sum(used.values()) / seconds, 2) if seconds else 0.0
        figures["cores stolen"] = round(stolen / seconds, 2) if seconds else 0.0
        return figures


def table(load: dict[str, Any]) -> str:
    """Per variant and phase: cores busy and stolen, CPU seconds of each role, and the GETs'
    outcomes."""
    lines = [
        "| variant | phase | cores busy | cores stolen | CPU seconds by process "
        "| GETs by outcome |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in load["variants"].items():
        for phase, p in v["phases"].items():
            cpu = dict(p["overall"].get("cpu_seconds") or {})
            busy = cpu.pop("cores busy", None)
            stolen = cpu.pop("cores stolen", "-")
            ranked = sorted(cpu.items(), key=lambda item: -item[1])
            eaten = ", ".join(f"{role} {seconds:g}" for role, seconds in ranked if seconds >= 0.01)
            counted = p["overall"].get("outcomes") or {}
            outcomes = ", ".join(f"{k} {n}" for k, n in counted.items())
            row = f"| {name} | {phase} | {busy} | {stolen} | {eaten or '-'} | {outcomes or '-'} |"
            lines.append(row)
    return "\n".join(lines)


def limits(load: dict[str, Any], cores: int) -> list[str]:
    """Per phase of collabcache: how much of the machine was busy and who used it, and so
    whether the phase was bound by the cores or kept up."""
    lines = []
    for phase, p in load["variants"]["collabcache"]["phases"].items():
        o = p["overall"]
        cpu = dict(o.get("cpu_seconds") or {})
        busy = cpu.pop("cores busy", 0.0)
        stolen = cpu.pop("cores stolen", 0.0)
        total = sum(cpu.values()) or 1.0
        ranked = sorted(cpu.items(), key=lambda item: -item[1])[:4]
        shares = ", ".join(f"{role} {seconds / total:.0%}" for role, seconds in ranked)
        served = o["throughput_per_s"] / p["rate_per_s"] if p["rate_per_s"] else 0.0
        if busy >= 0.85 * cores:
            verdict = "bound by the cores: the requests not served in time queued"
        elif served >= 0.99 and (o["p99_ms"] or 0) <= 100:
            verdict = "kept up, with cores to spare"
        else:
            verdict = "not bound by the cores: its latency came from elsewhere (see the p99)"
        busy_host = f" The host took {stolen} cores meanwhile: a busy machine's figures." * (
            stolen >= STOLEN_NOTED
        )
        lines.append(
            f"- **{phase}** ({p['rate_per_s']:g} req/s offered, {served:.0%} served, p99 "
            f"{o['p99_ms']} ms): {busy} of {cores} cores busy; CPU by process: {shares}. "
            f"{verdict.capitalize()}.{busy_host}"
        )
    return lines
