"""A warm: the hot set (`hot_set.plan`) filled through the fenced fill path of every read, by a
bounded number of workers so that the API keeps its share of the database (README, "Cache
warming"). Nothing here stores a value itself: each fill is `caching.refill`'s."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from collabcache_shared.cache.batch import Ending

from ..bootstrap import Container
from ..caching.refill import AfterLoad
from . import options
from .db_cost import counting
from .hot_set import Fill, families, plan

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WarmOptions:
    users: int = options.USERS  # the most active users (activity table)
    studies: int = options.STUDIES  # the most active studies
    # Fills in flight at once. In one process (the warm at start runs in an API worker, beside
    # its requests): half the command's default, which spreads its fills over two processes.
    concurrency: int = options.CONCURRENCY // options.PROCESSES


@dataclass
class WarmReport:
    planned: int = 0
    # family -> {filled, refused, fresh, not_visible, unavailable: count}
    by_family: dict[str, Counter[str]] = field(default_factory=dict)
    seconds: float = 0.0
    queries: int = 0
    database_seconds: float = 0.0
    niceness: int | None = None  # the warm process's CPU niceness (the command's)
    processes: int = 1  # that filled shares of the fills (`warming.processes`)

    def count(self, label: str, ending: str) -> None:
        self.by_family.setdefault(label, Counter())[ending] += 1

    def total(self, ending: str) -> int:
        return sum(c[ending] for c in self.by_family.values())

    def as_dict(self) -> dict[str, Any]:
        endings = [e.value for e in Ending]
        return {
            "planned": self.planned,
            **{ending: self.total(ending) for ending in endings},
            "seconds": round(self.seconds, 3),
            "database_queries": self.queries,
            "database_seconds": round(self.database_seconds, 3),
            "niceness": self.niceness,
            "processes": self.processes,
            "families": {
                label: {ending: self.by_family[label][ending] for ending in endings}
                for label in families()
                if label in self.by_family
            },
        }

    def counts(self) -> dict[str, Any]:
        """What `add` takes: the counts of one process's share (`warming.processes`)."""
        return {
            "by_family": {label: dict(c) for label, c in self.by_family.items()},
            "queries": self.queries,
            "database_seconds": self.database_seconds,
        }

    def add(self, counts: dict[str, Any]) -> None:
        for label, endings in counts["by_family"].items():
            self.by_family.setdefault(label, Counter()).update(endings)
        self.queries += counts["queries"]
        self.database_seconds += counts["database_seconds"]

    def lines(self) -> Iterator[str]:
        d = self.as_dict()
        yield (
            f"warmed {d['planned']} entries in {d['seconds']:.1f}s: {d['filled']} filled,"
            f" {d['refused']} refused (a write's fence or a lost lease), {d['fresh']} already"
            f" fresh, {d['full']} not stored for want of room (CACHE_MAX_*_FIELDS),"
            f" {d['not_visible']} not visible (404/401), {d['unavailable']} with Redis"
            f" unavailable, {d['failed']} failed; database: {d['database_queries']} queries,"
            f" {d['database_seconds']:.1f}s"
        )
        for label, counts in d["families"].items():
            shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            yield f"  {label}: {shown}"


async def warm(
    container: Container,
    options: WarmOptions = WarmOptions(),
    *,
    on_planned: Callable[[int], None] | None = None,
    on_filled: Callable[[int], object] | None = None,
    after_load: AfterLoad | None = None,
) -> WarmReport:
    """Fill the hot set; `on_planned(total)` and `on_filled(entries)` drive a progress bar."""
    started = time.perf_counter()
    with counting(container.engine) as cost:
        fills = await plan(container, users=options.users, studies=options.studies)
        if on_planned is not None:
            on_planned(planned(fills))
        report = await fill_share(container, fills, options.concurrency, on_filled, after_load)
    report.seconds = time.perf_counter() - started
    report.queries, report.database_seconds = cost.queries, cost.seconds
    return report


def planned(fills: Sequence[Fill]) -> int:
    return sum(one.size for one in fills)


async def fill_share(
    container: Container,
    fills: Sequence[Fill],
    concurrency: int,
    on_filled: Callable[[int], object] | None = None,
    after_load: AfterLoad | None = None,
) -> WarmReport:
    """Fill `fills` in order, `concurrency` at a time: the whole plan, or one process's share
    of it (`warming.processes`). Its database cost is counted by the caller."""
    report = WarmReport(planned=planned(fills))
    queue = iter(fills)

    async def worker() -> None:
        for one in queue:  # shared: each fill is taken by one worker
            for ending in await _fill(container, one, after_load):
                report.count(one.label, ending)
            if on_filled is not None:
                on_filled(one.size)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, concurrency)):
            group.create_task(worker())
    return report


async def _fill(container: Container, one: Fill, after_load: AfterLoad | None) -> list[Ending]:
    """How each entry's fill ended; a failure (the database unreachable, say) is counted, not
    raised: the next fill may well succeed, and what was filled stays filled."""
    try:
        return await one.fill(container, after_load)
    except Exception:
        log.exception("warm: filling %s failed", one.label)
        return [Ending.FAILED] * one.size
