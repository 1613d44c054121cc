"""`python -m collabcache_api.cli warm`: fill the hot set now, with a progress bar on a
terminal, and print what it filled, in how long, at what cost to the database."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from collabcache_shared.cache.batch import Ending
from collabcache_shared.settings import ApiSettings, CacheSettings, OutboxSettings, RedisSettings

from ..bootstrap import build_container
from .run import WarmOptions, WarmReport, warm

DEFAULTS = WarmOptions()
# How much lower than the caller's the warm's CPU priority is (`os.nice`): an API on the same
# host keeps its latency while the warm takes the CPU it leaves (README, "Cache warming").
NICENESS = 10


def add_parser(commands: Any, count: Callable[[int], Callable[[str], int]]) -> None:
    parser = commands.add_parser("warm", help="fill the hottest cache entries now")
    parser.add_argument(
        "--users", type=count(0), default=DEFAULTS.users, help="most active users to warm"
    )
    parser.add_argument(
        "--studies", type=count(0), default=DEFAULTS.studies, help="most active studies to warm"
    )
    parser.add_argument(
        "--concurrency", type=count(1), default=DEFAULTS.concurrency, help="fills at once"
    )
    parser.add_argument(
        "--nice", type=count(0), default=NICENESS, help="lower the warm's CPU priority by this"
    )
    parser.add_argument("--json", action="store_true", help="the report as one JSON object")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar (default: when stderr is a terminal)",
    )


async def run(args: argparse.Namespace) -> int:
    options = WarmOptions(users=args.users, studies=args.studies, concurrency=args.concurrency)
    niceness = os.nice(args.nice)
    container = build_container(
        ApiSettings(), RedisSettings(), CacheSettings(), OutboxSettings(relay_enabled=False)
    )
    if container.cache is None:
        print("warm: the cache is off (CACHE_ENABLED=false): nothing to warm", file=sys.stderr)
        return 1
    shown = sys.stderr.isatty() if args.progress is None else args.progress
    bar = tqdm(desc="warming", unit="entry", disable=not shown, file=sys.stderr)
    try:
        report = await warm(
            container,
            options,
            on_planned=lambda total: bar.reset(total=total),
            on_filled=bar.update,
        )
    finally:
        bar.close()
        await container.redis.aclose()
        await container.engine.dispose()
    report.niceness = niceness
    _print(report, as_json=args.json)
    return 0 if report.total(Ending.FAILED) == 0 else 1


def _print(report: WarmReport, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    for line in report.lines():
        print(line)
