"""The replay of `bench.memory_100k`: the load benchmark's Zipf mix of reads
(bench/load/workload.py) driven through the real API as fast as it answers (a closed loop,
`concurrency` requests in flight), until every user has been served and every hot key is filled.

Three passes: `zipf` draws reads from the mix (its writes are left out: the cache only grows);
`rest` sends one mix-drawn read for each user the first pass did not serve (the mix with its user
pinned), and `retry` once more for those whose read failed; `hot` reads again the most drawn
calls of the first pass, each of which should now be a hit (the check that the hot keys are
filled; one whose family's TTL is shorter than the replay may have expired). Progress is
printed every few seconds.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import aiohttp

from bench.load.generator import TRANSPORT_ERRORS, Tokens
from bench.load.workload import Call, Dataset, Mix, Zipf

PROGRESS_S = 5.0
HIT = "HIT"
# A read's outcome: the X-Cache header of a 200 ("HIT", "MISS", ...), else "status <code>".
Send = Callable[[Call], Awaitable[str]]


class _Pinned(Zipf):
    """A Zipf law that draws the index it is told: the mix's read for one chosen user."""

    def __init__(self) -> None:
        self.cumulative = [1.0]
        self.index = 0

    def draw(self, rng: random.Random) -> int:
        return self.index


def reads(mix: Mix) -> Iterator[Call]:
    """The mix's calls with its writes left out."""
    while True:
        call = mix.next()
        if not call.writes:
            yield call


def read_for_each(data: Dataset, users: Iterable[uuid.UUID], seed: int) -> Iterator[Call]:
    """One mix-drawn read for each of `users`, made as that user."""
    mix = Mix(data, seed)
    pinned = mix.users = _Pinned()
    rank = {user: index for index, user in enumerate(data.users)}
    for user in users:
        pinned.index = rank[user]
        yield next(reads(mix))


@dataclass
class Replay:
    send: Send
    concurrency: int = 16
    served: set[uuid.UUID] = field(default_factory=set)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    drawn: Counter[tuple[str, uuid.UUID]] = field(default_factory=Counter)  # (path, user) of zipf
    seconds: dict[str, float] = field(default_factory=dict)

    async def run(self, label: str, calls: Iterable[Call], total: int) -> None:
        """Sends `calls` (at most `total`) with `concurrency` in flight; progress printed."""
        outcomes = self.outcomes.setdefault(label, Counter())
        source = iter(islice(calls, total))
        started = last = time.monotonic()

        async def worker() -> None:
            nonlocal last
            for call in source:  # the workers share one iterator: each call is sent once
                outcome = await self.send(call)
                outcomes[outcome] += 1
                if not outcome.startswith("status"):
                    self.served.add(call.user)
                if label == "zipf":
                    self.drawn[(call.path, call.user)] += 1
                if time.monotonic() - last >= PROGRESS_S:
                    last = time.monotonic()
                    self._progress(label, outcomes, total, last - started)

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        self.seconds[label] = round(time.monotonic() - started, 1)
        self._progress(label, outcomes, total, self.seconds[label])

    def _progress(self, label: str, outcomes: Counter[str], total: int, elapsed: float) -> None:
        done = sum(outcomes.values())
        rate = done / elapsed if elapsed else 0.0
        print(
            f"  {label}: {done:,}/{total:,} requests, {rate:,.0f} req/s, "
            f"{len(self.served):,} users served, {dict(outcomes)}",
            flush=True,
        )

    def hot(self, count: int) -> list[Call]:
        """The `count` most drawn reads of the zipf pass, to read again."""
        return [Call("hot", "GET", path, user) for (path, user), _ in self.drawn.most_common(count)]


async def fill(
    replay: Replay, data: Dataset, zipf_reads: int, hot_reads: int, seed: int = 5
) -> None:
    """The three passes: every user served at least once (those a failed read left out are
    tried once more, `retry`), the hottest keys read twice."""
    await replay.run("zipf", reads(Mix(data, seed)), zipf_reads)
    for label in ("rest", "retry"):
        missing = [user for user in data.users if user not in replay.served]
        if missing:
            await replay.run(label, read_for_each(data, missing, seed + 1), len(missing))
    await replay.run("hot", replay.hot(hot_reads), hot_reads)


def api_sender(client: aiohttp.ClientSession, tokens: Tokens) -> Send:
    """Reads through the API: a 200's X-Cache, else `status <code>` (0: no answer)."""

    async def send(call: Call) -> str:
        try:
            async with client.get(call.path, headers=tokens.header(call.user)) as response:
                await response.read()
                if response.status != 200:
                    return f"status {response.status}"
                return response.headers.get("x-cache", "none")
        except TRANSPORT_ERRORS:
            return "status 0"

    return send
