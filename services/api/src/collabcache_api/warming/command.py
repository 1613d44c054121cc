"""`python -m collabcache_api.cli warm`: fill the hot set now, with a progress bar on a
terminal, and print what it filled, in how long, at what cost to the database. Its arguments
are in `warming.options`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial

from tqdm import tqdm

from collabcache_shared.cache.batch import Ending
from collabcache_shared.settings import ApiSettings, CacheSettings, OutboxSettings, RedisSettings

from ..bootstrap import Container, build_container
from . import processes
from .db_cost import counting
from .hot_set import Fill, plan
from .run import WarmReport, fill_share, planned


def main(args: argparse.Namespace, niceness: int) -> int:
    """Plan, fork the other processes (`warming.processes`), fill this process's share, sum.
    `niceness`: this process's, lowered by the caller before it imported this module (the
    forked processes inherit it)."""
    started = time.perf_counter()
    try:
        fills, planning = asyncio.run(_plan(args))
    except CacheOff:
        print("warm: the cache is off (CACHE_ENABLED=false): nothing to warm", file=sys.stderr)
        return 1
    count = min(args.processes, args.concurrency)
    own, *others = processes.shares(fills, count)
    limit, *limits = processes.in_flight(args.concurrency, count)
    children: list[processes.Child] = []
    bar = None
    try:
        for share, each in zip(others, limits, strict=True):
            fill = partial(_fill_share, args, each)
            children.append(processes.fork(share, fill, children))
        shown = sys.stderr.isatty() if args.progress is None else args.progress
        bar = tqdm(desc="warming", unit="entry", disable=not shown, file=sys.stderr)
        bar.reset(total=planned(fills))
        report = asyncio.run(_fill_own(args, limit, own, children, bar.update))
    except BaseException:
        processes.stop(children)
        raise
    finally:
        if bar is not None:
            bar.close()
        processes.reap(children)
    processes.add_counts(report, children)
    report.add(planning.counts())
    report.planned, report.processes = planned(fills), count
    report.seconds, report.niceness = time.perf_counter() - started, niceness
    _print(report, as_json=args.json)
    return 0 if report.total(Ending.FAILED) == 0 else 1


class CacheOff(Exception):
    pass


def _container() -> Container:
    return build_container(
        ApiSettings(), RedisSettings(), CacheSettings(), OutboxSettings(relay_enabled=False)
    )


@asynccontextmanager
async def _connected() -> AsyncIterator[Container]:
    """A container of this process, its connections closed at the end (before a fork)."""
    container = _container()
    try:
        if container.cache is None:
            raise CacheOff
        yield container
    finally:
        await container.redis.aclose()
        await container.engine.dispose()


async def _plan(args: argparse.Namespace) -> tuple[list[Fill], WarmReport]:
    async with _connected() as container:
        with counting(container.engine) as cost:
            fills = await plan(container, users=args.users, studies=args.studies)
    return fills, WarmReport(queries=cost.queries, database_seconds=cost.seconds)


async def _fill_share(
    args: argparse.Namespace,
    in_flight: int,
    share: Sequence[Fill],
    on_filled: Callable[[int], object],
) -> WarmReport:
    async with _connected() as container:
        with counting(container.engine) as cost:
            report = await fill_share(container, share, in_flight, on_filled)
    report.queries, report.database_seconds = cost.queries, cost.seconds
    return report


async def _fill_own(
    args: argparse.Namespace,
    in_flight: int,
    share: Sequence[Fill],
    children: list[processes.Child],
    on_filled: Callable[[int], object],
) -> WarmReport:
    """This process's share, while the children's pipes are read (their progress shown); on
    an error here the children are not waited for (the caller stops them)."""
    gathered = asyncio.create_task(processes.gather(children, on_filled))
    try:
        report = await _fill_share(args, in_flight, share, on_filled)
    except BaseException:
        gathered.cancel()
        raise
    await gathered
    return report


def _print(report: WarmReport, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    for line in report.lines():
        print(line)
