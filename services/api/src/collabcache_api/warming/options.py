"""The warm command's arguments and defaults (`cli warm`), importing nothing heavy: the command
lowers its CPU priority before it imports what it runs (README, "Cache warming")."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

USERS = 200  # the most active users (activity table)
STUDIES = 500  # the most active studies
CONCURRENCY = 8  # fills in flight at once, in all processes together (4 each in two)
# How much lower than the caller's the warm's CPU priority is (`os.nice`): an API on the same
# host keeps its latency while the warm takes the CPU it leaves.
NICENESS = 10
# Processes filling side by side: a warm's fills are mostly its own CPU (serialising what it
# loads), so one process fills one core at most.
PROCESSES = 2


def add_parser(commands: Any, count: Callable[[int], Callable[[str], int]]) -> None:
    parser = commands.add_parser("warm", help="fill the hottest cache entries now")
    parser.add_argument("--users", type=count(0), default=USERS, help="most active users to warm")
    parser.add_argument(
        "--studies", type=count(0), default=STUDIES, help="most active studies to warm"
    )
    parser.add_argument(
        "--concurrency",
        type=count(1),
        default=CONCURRENCY,
        help="fills at once, in all processes together",
    )
    parser.add_argument(
        "--processes",
        type=count(1),
        default=PROCESSES,
        help="processes filling shares of the hot set side by side",
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
