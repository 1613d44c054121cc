"""Register histories of the black-box freshness check, and the checker that judges them.

The promise checked is README "Consistency guarantees, in plain words": read your writes. Each
(register, user) is a boolean register (is u a member of the organization, a collaborator of
the study, is there a comment about u) that one writer changes, one write at a time. Views read
registers: the expected value of a view is a function of the register alone.

A read is judged against the last write on its register that completed (answered 2xx) before
the read started, unless a write on that register was in flight during the read, or an earlier
write's outcome is unknown and no applied write has completed since. A write answered with a
clean 503 must have changed nothing: a later read showing its value is a violation of its own.
Every time is `time.monotonic()` of the one process that made the requests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

# The register each view reads: M, F, R read organization membership; C, L collaboration; K
# the comment about the user.
VIEW_REGISTER = {
    "M": "member",
    "F": "member",
    "R": "member",
    "C": "collab",
    "L": "collab",
    "K": "comment",
}
INITIAL_VALUE = False  # every register starts absent: a fresh organization and study per run
CONTEXT_SECONDS = 1.0  # writes this close to a flagged read are printed with it


class Outcome(StrEnum):
    APPLIED = "applied"  # 2xx
    NOT_APPLIED = "not applied"  # never reached a server (connect error) or refused (4xx)
    REFUSED = "503"  # a clean 503 (Retry-After): must have changed nothing
    UNKNOWN = "unknown"  # connection lost, timeout, another 5xx: applied or not, nobody knows
    CONFLICT = "conflict"  # 409 / 404: the register was not what the writer believed


@dataclass(frozen=True, slots=True)
class Write:
    register: str
    user: str
    value: bool  # the value the write sets
    start: float
    end: float
    outcome: Outcome
    replica: int
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Read:
    view: str
    replica: int
    start: float
    end: float
    status: int
    x_cache: str
    caller: str = ""


@dataclass(frozen=True, slots=True)
class Observation:
    read: Read
    user: str
    value: bool

    @property
    def register(self) -> str:
        return VIEW_REGISTER[self.read.view]


@dataclass
class History:
    t0: float
    writes: list[Write] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Finding:
    """A read that showed what it should not have, with the writes around it."""

    kind: str  # "stale" or "503 applied"
    observation: Observation
    expected: bool
    last_applied: Write | None
    nearby: tuple[Write, ...]


@dataclass
class Report:
    checked: Counter[str] = field(default_factory=Counter)  # per view
    skipped: Counter[str] = field(default_factory=Counter)  # "in flight", "ambiguous"
    stale: list[Finding] = field(default_factory=list)
    applied_503: list[Finding] = field(default_factory=list)
    conflicts_after_503: list[Write] = field(default_factory=list)

    @property
    def stale_by_view(self) -> Counter[str]:
        return Counter(f.observation.read.view for f in self.stale)


def check(history: History) -> Report:
    report = Report()
    writes = _by_register(history.writes)
    for observation in history.observations:
        key = (observation.register, observation.user)
        _judge(observation, writes.get(key, []), report)
    for register_writes in writes.values():
        report.conflicts_after_503 += _conflicts_after_503(register_writes)
    return report


def _by_register(writes: list[Write]) -> dict[tuple[str, str], list[Write]]:
    grouped: dict[tuple[str, str], list[Write]] = defaultdict(list)
    for write in sorted(writes, key=lambda w: w.start):
        grouped[(write.register, write.user)].append(write)
    return grouped


def _judge(observation: Observation, writes: list[Write], report: Report) -> None:
    read = observation.read
    if any(w.start < read.end and w.end > read.start for w in writes):
        report.skipped["in flight"] += 1
        return
    before = [w for w in writes if w.end <= read.start]
    if _ambiguous(before):
        report.skipped["ambiguous"] += 1
        return
    report.checked[read.view] += 1
    applied = [w for w in before if w.outcome is Outcome.APPLIED]
    last = applied[-1] if applied else None
    expected = last.value if last is not None else INITIAL_VALUE
    if observation.value == expected:
        return
    refused = [
        w for w in before if w.outcome is Outcome.REFUSED and (last is None or w.end > last.end)
    ]
    kind = "503 applied" if any(w.value == observation.value for w in refused) else "stale"
    finding = Finding(kind, observation, expected, last, _nearby(writes, read))
    (report.stale if kind == "stale" else report.applied_503).append(finding)


def _ambiguous(before: list[Write]) -> bool:
    """An unknown outcome (or a surprise conflict) not yet followed by an applied write."""
    for write in reversed(before):
        if write.outcome is Outcome.APPLIED:
            return False
        if write.outcome in (Outcome.UNKNOWN, Outcome.CONFLICT):
            return True
    return False


def _nearby(writes: list[Write], read: Read) -> tuple[Write, ...]:
    low, high = read.start - CONTEXT_SECONDS, read.end + CONTEXT_SECONDS
    close = [w for w in writes if w.end >= low and w.start <= high]
    earlier = [w for w in writes if w.end < low][-2:]
    return (*earlier, *close)


def _conflicts_after_503(writes: list[Write]) -> list[Write]:
    """A conflict right after a clean 503 that set the same value: the 503 had applied it."""
    found = []
    for previous, write in pairwise(writes):
        refused = previous.outcome is Outcome.REFUSED
        if refused and write.outcome is Outcome.CONFLICT and write.value == previous.value:
            found.append(write)
    return found


def timeline(finding: Finding, t0: float) -> str:
    """A flagged read and the writes around it, times in ms from the run's start."""
    obs, read = finding.observation, finding.observation.read

    def ms(t: float) -> str:
        return f"{(t - t0) * 1000:9.1f}"

    lines = [
        f"{finding.kind.upper()}: view {read.view} of user {obs.user[:8]} on replica "
        f"{read.replica} ({read.caller or 'owner'}): saw {obs.value}, expected "
        f"{finding.expected}; status {read.status}, X-Cache {read.x_cache or '-'}",
        f"  read      {ms(read.start)} .. {ms(read.end)} ms",
    ]
    last = finding.last_applied
    if last is not None:
        gap = (read.start - last.end) * 1000
        lines.append(f"  the read started {gap:.1f} ms after the last applied write returned")
    for w in finding.nearby:
        mark = "*" if w is last else " "
        lines.append(
            f" {mark}write {w.register}={w.value!s:<5} {ms(w.start)} .. {ms(w.end)} ms "
            f"replica {w.replica} {w.outcome.value} ({w.status or '-'})"
        )
    return "\n".join(lines)
