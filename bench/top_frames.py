"""Where a py-spy recording spent its samples: the frames with the most samples inclusive (on
the stack) and exclusive (at its top), from py-spy's collapsed stacks (`--format raw`, written
by `bench.request_cpu --py-spy` and `bench.ceiling --py-spy`).

Usage: `uv run python -m bench.top_frames FILE [--top N] [--match TEXT]` (`--match`: only
frames whose text contains it, e.g. `collabcache_api`, for the inclusive table).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def read(path: Path) -> list[tuple[list[str], int]]:
    """(frames from the outermost, samples) per line; idle threads' stacks left out."""
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def tally(stacks: list[tuple[list[str], int]]) -> tuple[Counter[str], Counter[str], int]:
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    total = 0
    for frames, count in stacks:
        total += count
        exclusive[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return inclusive, exclusive, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="")
    args = parser.parse_args()
    inclusive, exclusive, total = tally(read(args.file))
    print(f"{total} samples")
    chosen = [(f, n) for f, n in inclusive.most_common() if args.match in f][: args.top]
    print("\ninclusive")
    for frame, n in chosen:
        print(f"{100 * n / total:5.1f}%  {frame}")
    print("\nexclusive")
    for frame, n in exclusive.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
