"""The world interleavings are played in (README, "The fenced cache protocol").

A fake database holds a version per register: `members` (an organization's first members page,
ORGANIZATION_MEMBERS) and `standing` (a user's standing there, the USER_PERMISSIONS field
`org:<id>`). Readers read through a `CacheManager` of replica A or B (real manager, real store,
real Lua scripts, one Redis), their loader reading the register's version; writers run
fence → commit → clear as the API's unit of work does; the invalidator drops a commit's keys
after it; a Redis restart loses every entry, lease and fence. The history they leave is
checked: no read that started after a write completed may return a version older than it, nor
older than one a read that ended before it started returned; no value left in Redis may differ
from the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import cast
from unittest.mock import patch

from collabcache_shared.cache import fences as fences_module
from collabcache_shared.cache import manager as manager_module
from collabcache_shared.cache.entry import DATA, Entry
from collabcache_shared.cache.flights import Flight
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from collabcache_shared.cache.manager import CacheManager, Loader, Outcome, Result
from collabcache_shared.cache.store import AnyRedis, Slot
from collabcache_shared.clock import now_ms
from collabcache_shared.settings import CacheSettings
from tests.integration.cache.scheduler import (
    Chooser,
    Faults,
    Scheduler,
    ServerAge,
    SteppingStore,
)

REGISTERS = ("members", "standing")
STAMPEDE_STEPS = 10  # a reader waiting for another's lease this many steps takes it over


def cache_settings() -> CacheSettings:
    """Nothing may time out while an actor is parked: the scheduler alone decides."""
    hour = 3600
    return CacheSettings(
        operation_timeout_seconds=hour,
        fence_seconds=hour,
        fence_timeout_seconds=hour,
        lease_ms=hour * 1000,
        stampede_wait_seconds=STAMPEDE_STEPS,  # on the logical clock: steps
        stampede_poll_seconds=0.001,
        events_enabled=False,
    )


@dataclass(frozen=True)
class Scenario:
    """The actors, spawned in this order (it decides which schedules are few delays away):
    "A reads members", "B reads standing+members" (one lookup of both, then each, as the API's
    responder does), "A writes standing+members", "A writes standing dies-after-commit" (or
    "dies-before-commit": its replica is killed there), "restart" (Redis restarts empty at
    some step). Then the mechanisms, and the faults (of replica A's calls)."""

    actors: tuple[str, ...]
    invalidator: bool = True  # each commit's event reaches the invalidator
    fenced: bool = True  # off: commit, then a plain invalidation (the unfenced way)
    share_unconditionally: bool = False  # joiners take a flight's result, certified or not
    lose_invalidation: bool = False  # a writer's plain invalidation is lost
    lose_first_clear: bool = False  # a writer's first clear is lost (retried)
    lose_clear: bool = False  # every clear is lost until the fence would expire
    young_after_restart: bool = True  # a restarted server grants no lease for a fence period


@dataclass(frozen=True)
class Read:
    actor: str
    register: str
    started: int
    ended: int
    version: int
    outcome: str


@dataclass(frozen=True)
class Write:
    actor: str
    versions: dict[str, int]
    completed: int


@dataclass
class Played:
    trace: list[str]
    widths: list[int]  # how many actors were parked at each decision
    reads: list[Read]
    writes: list[Write]
    problems: list[str]
    counters: dict[str, dict[str, int]]  # each replica's cache counters

    def read_by(self, actor: str, register: str = "members") -> tuple[int, str]:
        """The version `actor` read of `register`, and the outcome."""
        [found] = [
            (r.version, r.outcome) for r in self.reads if (r.actor, r.register) == (actor, register)
        ]
        return found

    def database_reads(self) -> int:
        return sum(line.endswith(" read") for line in self.trace)

    def describe(self) -> str:
        reads = [
            f"  {r.actor} steps {r.started}-{r.ended}: {r.register} v{r.version} {r.outcome}"
            for r in self.reads
        ]
        writes = [f"  {w.actor} completed at step {w.completed}: {w.versions}" for w in self.writes]
        return "\n".join(
            ["", *self.problems, "steps:", *self.trace, "reads:", *reads, "writes:", *writes]
        )


@dataclass
class World:
    scheduler: Scheduler
    redis: AnyRedis
    keyspace: KeySpace
    scenario: Scenario
    versions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REGISTERS, 0))
    reads: list[Read] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    org: uuid.UUID = field(default_factory=uuid.uuid4)
    user: uuid.UUID = field(default_factory=uuid.uuid4)
    replicas: dict[str, CacheManager] = field(default_factory=dict)
    server: ServerAge = field(default_factory=ServerAge)

    def slot(self, register: str) -> Slot:
        if register == "standing":
            return Slot(CacheKey.of(Family.USER_PERMISSIONS, self.user), f"org:{self.org}")
        return Slot(CacheKey.of(Family.ORGANIZATION_MEMBERS, self.org), "p1")

    def keys(self, registers: Iterable[str]) -> list[CacheKey]:
        return [self.slot(register).key for register in registers]

    def loader(self, register: str) -> Loader:
        async def load() -> bytes:
            await self.scheduler.step("read")
            version = self.versions[register]
            await self.scheduler.step("loaded")
            return b"%d" % version

        return load

    def replica(self, faults: Faults | None = None) -> CacheManager:
        store = SteppingStore(self.redis, self.keyspace, self.scheduler, faults, self.server)
        cache = CacheManager(store, cache_settings())
        join = join_unconditionally if self.scenario.share_unconditionally else cache._join

        async def tracked_join(
            flight: Flight[Result], slot: Slot, load: Loader, refresh: bool
        ) -> Result:
            with self.scheduler.waiting(flight.future):  # not parked: waiting for the flight
                return await join(flight, slot, load, refresh)

        cache._join = tracked_join  # type: ignore[method-assign]
        return cache


async def join_unconditionally(
    flight: Flight[Result], slot: Slot, load: Loader, refresh: bool
) -> Result:
    """The single flight without certification: every joiner takes the flight's result."""
    result = await asyncio.shield(flight.future)
    return Result(result.body, result.etag, Outcome.MISS)


async def read(world: World, cache: CacheManager, name: str, registers: Sequence[str]) -> None:
    """One request: its start, one lookup of its slots, then each slot through the cache."""
    await world.scheduler.step("start")
    started = world.scheduler.now
    slots = [world.slot(register) for register in registers]
    found = await cache.lookup(slots) if len(slots) > 1 else None
    for i, register in enumerate(registers):
        load = world.loader(register)
        if len(slots) > 1 and found is None:
            result = await cache.bypass(load)
        else:
            result = await cache.get_or_load(slots[i], load, found=found[i] if found else None)
        version, outcome = int(result.body), result.outcome.value
        world.reads.append(Read(name, register, started, world.scheduler.now, version, outcome))


async def write(
    world: World, cache: CacheManager, name: str, registers: Sequence[str], dies: str
) -> None:
    """fence → commit → clear (or commit → invalidate, unfenced), as a request's unit of work."""
    scenario, keys = world.scenario, world.keys(registers)
    certificates = {key: [uuid.uuid4().hex] for key in keys}  # one event per entry written
    fence = await cache.fences.place(keys, certificates) if scenario.fenced else None
    if dies == "dies-before-commit":
        return
    await world.scheduler.step("commit")
    if fence is not None:
        fence.check_deadline()
    for register in registers:
        world.versions[register] += 1
    committed = {register: world.versions[register] for register in registers}
    if scenario.invalidator:  # the commit's event reaches the invalidator
        world.scheduler.spawn(f"I.{name}", invalidate(world, certificates))
    if dies == "dies-after-commit":
        return
    if fence is None:
        await cache.invalidate(keys)  # False when lost: the write answers all the same
    else:
        if scenario.lose_clear:  # Redis stays unreachable until the fence would expire
            fence = dataclasses.replace(fence, expires_at=time.monotonic())
        await cache.fences.clear(fence)
    world.writes.append(Write(name, committed, world.scheduler.now))


async def invalidate(world: World, certificates: dict[CacheKey, list[str]]) -> None:
    """The invalidator's drop of a commit's entries, sparing those its clear certified."""
    store = SteppingStore(world.redis, world.keyspace, world.scheduler)
    await store.invalidate(certificates.keys(), now_ms(), certificates)


async def restart(world: World) -> None:
    """Redis restarts empty: entries, leases and fences are gone, and the server is young."""
    await world.scheduler.step("restart")
    world.server.young = world.scenario.young_after_restart
    for key in world.keys(REGISTERS):
        await world.redis.unlink(world.keyspace.entry(key))


async def entries_left_stale(world: World) -> list[str]:
    """Every value stored in Redis, whatever its variant, must be the database's version."""
    problems = []
    for register in REGISTERS:
        name = world.keyspace.entry(world.slot(register).key)
        fields = cast(dict[bytes, bytes], await world.redis.hgetall(name))
        for field_name, raw in fields.items():
            entry = Entry.decode(raw) if field_name.startswith(DATA.encode()) else None
            version = world.versions[register]
            if entry is not None and int(entry.body) != version:
                problems.append(f"left in Redis: {register} v{entry.body.decode()}, not v{version}")
    return problems


def stale_reads(world: World) -> list[str]:
    problems = []
    for r in world.reads:
        for w in world.writes:
            expected = w.versions.get(r.register, -1)
            if w.completed < r.started and r.version < expected:
                problems.append(
                    f"STALE: {r.actor} started at step {r.started}, after {w.actor} completed"
                    f" at step {w.completed}, and read {r.register} v{r.version} ({r.outcome}),"
                    f" not v{expected}"
                )
    return problems


def reads_gone_back(world: World) -> list[str]:
    """Stronger than the above: once a read has returned a version, no read that starts
    after it ended returns an older one (whether or not the write has answered yet)."""
    return [
        f"BACKWARDS: {r.actor} started at step {r.started} and read {r.register} v{r.version},"
        f" after {seen.actor} had read v{seen.version} by step {seen.ended}"
        for r in world.reads
        for seen in world.reads
        if seen.register == r.register and seen.ended < r.started and r.version < seen.version
    ]


def spawn(world: World) -> None:
    scenario, scheduler = world.scenario, world.scheduler
    lost_clears = 1 if scenario.lose_first_clear else 1000 if scenario.lose_clear else 0
    writes = sum(" writes " in spec for spec in scenario.actors)
    faults = Faults(invalidate=writes * scenario.lose_invalidation, clear=lost_clears)
    replicas = world.replicas = {"A": world.replica(faults), "B": world.replica()}
    readers = writers = 0
    for spec in scenario.actors:
        if spec == "restart":
            scheduler.spawn("restart", restart(world))
            continue
        replica, verb, registers, *dies = spec.split()
        cache = replicas[replica]
        if verb == "reads":
            readers += 1
            name = f"{replica}.r{readers}"
            scheduler.spawn(name, read(world, cache, name, registers.split("+")))
        else:
            writers += 1
            name = f"W{writers}"
            body = write(world, cache, name, registers.split("+"), "".join(dies))
            scheduler.spawn(name, body)


async def play(redis: AnyRedis, keyspace: KeySpace, scenario: Scenario, choose: Chooser) -> Played:
    """Play `scenario` on fresh keys, scheduled by `choose`; the history's problems."""
    scheduler = Scheduler()
    world = World(scheduler, redis, keyspace, scenario)
    clock = SimpleNamespace(monotonic=lambda: float(scheduler.now), time_ns=time.time_ns)
    try:  # stampede deadlines count steps; a lost clear is retried at once
        with (
            patch.object(manager_module, "time", clock),
            patch.object(fences_module, "CLEAR_RETRY_SECONDS", (0.0,)),
        ):
            spawn(world)
            await scheduler.run(choose)
        problems = stale_reads(world) + reads_gone_back(world) + await entries_left_stale(world)
    finally:
        for key in world.keys(REGISTERS):
            await redis.unlink(keyspace.entry(key))
    counters = {n: {**c.counters, **c.fences.counters} for n, c in world.replicas.items()}
    return Played(scheduler.trace, scheduler.widths, world.reads, world.writes, problems, counters)
