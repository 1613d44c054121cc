"""A controlled scheduler for cache actors, and an `EntryStore` that parks before each call.

Actors are asyncio tasks. Each step point (`Scheduler.step`: before every Redis call the cache
makes, through `SteppingStore`; before and after a loader's database read; a writer's commit)
parks the actor until the scheduler releases it. The scheduler releases one parked actor at a
time and waits until every actor is parked again, finished, or waiting for another's in-process
load (`Scheduler.waiting`), so a run is decided by its choices alone, never by timing.

A `Chooser` picks, at each decision, an index into the parked actors in rotation from the one
released last (index 0 lets it go on; k > 0 is a delay of k: the k-th next one goes instead).
Three of them: `priorities` (probabilistic concurrency testing, for Hypothesis), `delays` (the
delay-bounded exhaustive search, with `delay_bounded`), `script` (a named interleaving).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import TimeoutError as RedisTimeout

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis, EntryStore

SETTLE_SECONDS = 10.0  # an actor that neither parks nor ends in this long is a bug of the test

Chooser = Callable[[int, Sequence["Actor"]], int]


class Deadlock(AssertionError):
    """Every live actor waits for another one: the scheduler has nobody to release."""


@dataclass(eq=False)
class Actor:
    index: int
    name: str
    task: asyncio.Task[None] | None = None
    parked_at: str | None = None
    gate: asyncio.Future[None] | None = None
    waiting_on: asyncio.Future[Any] | None = None
    error: BaseException | None = None
    done: bool = False

    @property
    def settled(self) -> bool:
        """Parked, finished, or waiting for a load that has not ended yet."""
        waiting = self.waiting_on is not None and not self.waiting_on.done()
        return self.done or self.parked_at is not None or waiting


@dataclass
class Scheduler:
    actors: list[Actor] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)  # one line per released step
    widths: list[int] = field(default_factory=list)  # how many were parked at each decision
    _by_task: dict[asyncio.Task[Any], Actor] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _last: Actor | None = None

    @property
    def now(self) -> int:
        """The logical time: how many steps have been released (the last one's number)."""
        return len(self.trace)

    def spawn(self, name: str, body: Coroutine[Any, Any, None]) -> Actor:
        actor = Actor(len(self.actors), name)
        self.actors.append(actor)
        actor.task = asyncio.create_task(self._run(actor, body), name=name)
        self._by_task[actor.task] = actor
        return actor

    async def _run(self, actor: Actor, body: Coroutine[Any, Any, None]) -> None:
        try:
            await body
        except Exception as exc:  # reported by `run`, with the trace
            actor.error = exc
        finally:
            actor.done = True
            self._changed.set()

    def current(self) -> Actor:
        task = asyncio.current_task()
        if task not in self._by_task:
            raise RuntimeError("a step point was reached outside any actor")
        return self._by_task[task]

    async def step(self, label: str) -> None:
        """Park the calling actor at `label` until the scheduler releases it."""
        actor = self.current()
        actor.gate = asyncio.get_running_loop().create_future()
        actor.parked_at = label
        self._changed.set()
        await actor.gate

    @contextmanager
    def waiting(self, future: asyncio.Future[Any]) -> Iterator[None]:
        """The calling actor waits for `future` (another actor's load), not for the scheduler."""
        actor = self.current()
        actor.waiting_on = future
        self._changed.set()
        try:
            yield
        finally:
            actor.waiting_on = None

    async def run(self, choose: Chooser) -> None:
        """Release parked actors one at a time, as `choose` says, until every actor ended."""
        while True:
            await self._settle()
            parked = self._rotation()
            if not parked:
                break
            self.widths.append(len(parked))
            self._release(parked[choose(len(self.trace), parked) % len(parked)])
        errors = [a for a in self.actors if a.error is not None]
        if errors:
            raise AssertionError(f"{errors[0].name} failed:\n" + "\n".join(self.trace)) from (
                errors[0].error
            )

    async def _settle(self) -> None:
        deadline = time.monotonic() + SETTLE_SECONDS
        while not all(actor.settled for actor in self.actors):
            self._changed.clear()
            if all(actor.settled for actor in self.actors):
                break
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self._changed.wait()
            except TimeoutError:
                running = [a.name for a in self.actors if not a.settled]
                raise AssertionError(f"actors never parked: {running}") from None
        if not any(a.parked_at for a in self.actors) and not all(a.done for a in self.actors):
            stuck = [a.name for a in self.actors if not a.done]
            raise Deadlock(f"nobody to release, waiting: {stuck}\n" + "\n".join(self.trace))

    def _rotation(self) -> list[Actor]:
        """The parked actors, starting at the one released last (or the next one after it)."""
        parked = [a for a in self.actors if a.parked_at is not None]
        start = self._last.index if self._last is not None else 0
        return sorted(parked, key=lambda a: (a.index - start) % len(self.actors))

    def _release(self, actor: Actor) -> None:
        assert actor.gate is not None
        self.trace.append(f"{len(self.trace) + 1:3} {actor.name:<12} {actor.parked_at}")
        actor.parked_at = None
        self._last = actor
        actor.gate.set_result(None)


def priorities(ranks: Sequence[int], change_points: Sequence[int]) -> Chooser:
    """Probabilistic concurrency testing (PCT): the parked actor of highest rank goes on
    (`ranks[i]` for actor i, 0 for later ones, ties to the lower index); at each change point
    the one that would go drops below every other, so a few change points make an actor wait
    for many steps (a request that starts late, a load that stalls)."""
    rank = dict(enumerate(ranks))
    drops = set(change_points)

    def choose(decision: int, parked: Sequence[Actor]) -> int:
        def best() -> int:
            return max(
                range(len(parked)), key=lambda i: (rank.get(parked[i].index, 0), -parked[i].index)
            )

        if decision in drops:
            rank[parked[best()].index] = -decision - 1
        return best()

    return choose


def delays(overrides: dict[int, int]) -> Chooser:
    """Decision d takes `overrides.get(d, 0)`: a schedule of the delay-bounded search."""
    return lambda decision, _: overrides.get(decision, 0)


def script(steps: Sequence[tuple[str, str]]) -> Chooser:
    """Release `steps` in order, each an (actor, label it must be parked at); then choice 0."""

    def choose(decision: int, parked: Sequence[Actor]) -> int:
        if decision >= len(steps):
            return 0
        name, label = steps[decision]
        chosen = [i for i, actor in enumerate(parked) if actor.name == name]
        waiting = {a.name: a.parked_at for a in parked}
        assert chosen, f"step {decision + 1}: {name} is not parked; parked: {waiting}"
        assert parked[chosen[0]].parked_at == label, f"step {decision + 1}: {waiting}"
        return chosen[0]

    return choose


def delay_bounded(
    widths: Sequence[int], overrides: dict[int, int], budget: int
) -> list[dict[int, int]]:
    """The schedules one more delay away from a played one (delay-bounded search): a delay
    at decision d skips the actor that would go on for the next one in the rotation; `budget`
    delays in all, placed after the last one already there, so each schedule comes once."""
    first = max(overrides, default=-1) + 1
    left = budget - sum(overrides.values())
    return [
        {**overrides, decision: k}
        for decision in range(first, len(widths))
        for k in range(1, min(left, widths[decision] - 1) + 1)
    ]


class Faults:
    """Calls to lose: the next `n` calls of an operation fail as a Redis timeout would."""

    def __init__(self, **lost: int) -> None:
        self.lost = dict(lost)

    def take(self, op: str) -> bool:
        if self.lost.get(op, 0) <= 0:
            return False
        self.lost[op] -= 1
        return True


@dataclass
class ServerAge:
    """Whether the Redis of a scenario counts as just restarted. Its real uptime never changes
    (a restart is played by emptying the keys), so the lease's uptime check is driven through
    its `fence_s` argument: 0 never refuses, `YOUNG` always does (README, "The fenced cache
    protocol": a server younger than the fence period grants no lease)."""

    young: bool = False
    YOUNG = 10**9

    def fence_s(self) -> int:
        return self.YOUNG if self.young else 0


class SteppingStore(EntryStore):
    """The real store, parking its actor before each Redis call (and failing lost ones)."""

    def __init__(
        self,
        redis: AnyRedis,
        keyspace: KeySpace,
        scheduler: Scheduler,
        faults: Faults | None = None,
        server: ServerAge | None = None,
    ) -> None:
        super().__init__(redis, keyspace)
        self.scheduler = scheduler
        self.faults = faults or Faults()
        self.server = server or ServerAge()

    async def _gate(self, op: str) -> None:
        await self.scheduler.step(op)
        if self.faults.take(op):
            raise RedisTimeout(f"{op} lost (injected)")

    async def lookup(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate("lookup")
        return await super().lookup(*args, **kwargs)

    async def lease(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate("lease")
        kwargs["fence_s"] = self.server.fence_s()
        return await super().lease(*args[:6], **kwargs)

    async def fill(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate("fill")
        return await super().fill(*args, **kwargs)

    async def release(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate("release")
        return await super().release(*args, **kwargs)

    async def fence(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate("fence")
        return await super().fence(*args, **kwargs)

    async def clear(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate("clear")
        return await super().clear(*args, **kwargs)

    async def invalidate(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate("invalidate")
        return await super().invalidate(*args, **kwargs)
