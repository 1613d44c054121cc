"""The programs the benchmarks run besides Python, looked up on PATH, and which part needs which
(README, "Benchmarks"): `bench.run` checks them before it starts anything."""

from __future__ import annotations

import shutil
from collections.abc import Iterable

# part -> the programs it runs (the others need only PostgreSQL and the shared Redis)
NEEDS = {
    "load": ("redis-server",),  # a private server per variant
    "invalidation_lag": ("redis-server",),
    "ceiling": ("redis-server", "wrk"),
    "memory": ("redis-server",),
    "memory_100k": ("redis-server",),
    "history": ("redis-server",),
}
INSTALL = {
    "redis-server": "Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis",
    "wrk": "Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk",
}


def path(tool: str) -> str:
    """Where `tool` is on PATH; its bare name when it is not (starting it then fails)."""
    return shutil.which(tool) or tool


def missing(parts: Iterable[str]) -> dict[str, list[str]]:
    """tool -> the chosen parts that need it, for every needed tool not on PATH."""
    absent: dict[str, list[str]] = {}
    for part in sorted(parts):
        for tool in NEEDS.get(part, ()):
            if shutil.which(tool) is None:
                absent.setdefault(tool, []).append(part)
    return absent


def _who(parts: list[str]) -> str:
    return (
        f"the {parts[0]} part runs it"
        if len(parts) == 1
        else f"the parts {', '.join(parts)} run it"
    )


def problem(absent: dict[str, list[str]], chosen: Iterable[str]) -> str:
    """What to tell when tools are missing: which, who needs them, how to install them."""
    lines = [
        f"bench.run: `{tool}` is not on PATH; {_who(parts)}. Install it ({INSTALL[tool]})."
        for tool, parts in absent.items()
    ]
    needing = {part for parts in absent.values() for part in parts}
    rest = sorted(set(chosen) - needing)
    lines.append(
        "Everything at once (Debian/Ubuntu): sudo apt-get install redis-server wrk"
        + (f"; or run only the other parts: --parts {','.join(rest)}" if rest else "")
    )
    return "\n".join(lines)
