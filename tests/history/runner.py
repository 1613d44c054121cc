"""One history run per fault kind on a running cluster, judged, and the "stale of checked"
table that the test and bench/history.py print."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.history.cluster import Cluster
from tests.history.faults import FAULTS
from tests.history.history import History, Report, check, timeline
from tests.history.workload import Workload, create_scene
from tests.history.writer import Writer

WRITERS = 4  # each owns a quarter of the users: writes on one user never overlap
READERS = 6  # beside the reads that shadow and chase each write (tests/history/workload.py)
SHOWN_TIMELINES = 50  # per fault kind; the count says how many more there were


@dataclass
class KindResult:
    kind: str
    seconds: float
    strikes: int
    report: Report
    history: History
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def checked(self) -> int:
        return sum(self.report.checked.values())

    @property
    def stale(self) -> int:
        return len(self.report.stale)

    @property
    def applied_503(self) -> int:
        return len(self.report.applied_503) + len(self.report.conflicts_after_503)

    def figures(self) -> dict[str, Any]:
        """The bench's JSON shape for one fault kind."""
        report = self.report
        return {
            "seconds": round(self.seconds, 1),
            "strikes": self.strikes,
            "checked": self.checked,
            "stale": self.stale,
            "stale_by_view": dict(report.stale_by_view),
            "checked_by_view": dict(report.checked),
            "skipped": dict(report.skipped),
            "applied_503": self.applied_503,
            "requests": dict(self.requests),
            "hits_in_stale": sum(f.observation.read.x_cache == "HIT" for f in report.stale),
        }


async def run_kind(cluster: Cluster, kind: str, seconds: float, seed: int = 0) -> KindResult:
    """A fresh organization and study, the workload for `seconds` under the fault, then the
    cluster healed and every process answering again."""
    scene = await create_scene(cluster)
    history = History(t0=time.monotonic())
    workload = Workload(cluster, scene, history, seed)
    users = scene.users
    writers = [Writer(workload, users[i::WRITERS], seed * 100 + i).run() for i in range(WRITERS)]
    started = time.monotonic()
    try:
        workload.deadline = started + seconds
        _, strikes = await asyncio.gather(
            workload.run(writers, READERS), FAULTS[kind](cluster, workload)
        )
    finally:
        await workload.aclose()
        await cluster.wait_ready()
    elapsed = time.monotonic() - started
    return KindResult(kind, elapsed, strikes, check(history), history, workload.requests)


def table(results: list[KindResult]) -> str:
    lines = [
        "| fault | seconds | strikes | stale of checked | stale by view | 503 applied "
        "| reads | writes applied / unknown |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        by_view = ", ".join(f"{v} {n}" for v, n in sorted(r.report.stale_by_view.items())) or "-"
        writes = f"{r.requests['writes applied']} / {r.requests['writes unknown']}"
        lines.append(
            f"| {r.kind} | {r.seconds:.1f} | {r.strikes} | **{r.stale}** of {r.checked} "
            f"| {by_view} | {r.applied_503} | {r.requests['reads']} | {writes} |"
        )
    return "\n".join(lines)


def timelines(result: KindResult, limit: int = SHOWN_TIMELINES) -> str:
    findings = [*result.report.stale, *result.report.applied_503]
    shown = [timeline(f, result.history.t0) for f in findings[:limit]]
    more = len(findings) - len(shown)
    tail = [f"... and {more} more"] if more > 0 else []
    return "\n".join([f"## {result.kind}", *shown, *tail])
