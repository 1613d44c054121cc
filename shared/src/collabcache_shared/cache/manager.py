"""The cache manager: read-through caching that never serves a stale value, never stampedes,
and never lets a slow or dead Redis fail or hold a request (README, "The fenced cache
protocol").

- `get_or_load`, the read-through of every cached GET: hit, or load once (a per-process single
  flight and a Redis lease across processes), fill only while the lease holds and no write's
  fence is up.
- A request shares an in-process load only if that load's result was certified by Redis after
  the request joined it (a fill its lease still allowed, or a lookup): a load that began
  before a write the request saw complete is never shared with it.
- Redis errors open the circuit breaker: requests are answered by the loader (BYPASS). Writes
  do not rely on it: they fence before committing (`fences`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from ..background import cancel_until_done
from ..clock import now_ms
from ..settings import CacheSettings
from .breaker import BreakerState, CircuitBreaker
from .entry import Entry, etag_of
from .errors import REDIS_FAILURES, RedisUnavailable
from .fences import Fences
from .flights import Flight
from .keys import CacheKey
from .lookup_call import Lookup
from .store import EntryStore, FillResult, Found, Lease, Slot

log = logging.getLogger(__name__)
T = TypeVar("T")
# Background refreshes of stale entries one process loads at once: a burst of them (a bulk
# write, entries a warm filled together growing old together) queues instead of taking the
# database and the event loop all at once (README, "Consistency guarantees in plain words").
REFRESHES_AT_ONCE = 2
Loader = Callable[[], Awaitable[bytes]]


class Outcome(StrEnum):
    HIT = "HIT"
    MISS = "MISS"
    BYPASS = "BYPASS"
    STALE = "STALE"


@dataclass(frozen=True, slots=True)
class Result:
    body: bytes
    etag: str
    outcome: Outcome
    age_s: int | None = None
    # What this call's own fill did (a MISS it loaded); None when it filled nothing itself.
    fill: FillResult | None = None


def entry_of(slot: Slot, generation: int, body: bytes) -> Entry:
    """What a fill stores: the body, its ETag where the family keeps one, and when."""
    etag = etag_of(body) if slot.key.policy.stores_etag else ""
    return Entry(generation, now_ms(), etag, body)


class CacheManager:
    def __init__(
        self, store: EntryStore, settings: CacheSettings, breaker: CircuitBreaker | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.breaker = breaker or CircuitBreaker(
            settings.breaker_failure_threshold, settings.breaker_reset_seconds
        )
        self.fences = Fences(store, settings)
        self._flights: dict[Slot, Flight[Result]] = {}
        self._refreshing: set[Slot] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._refresh_slots = asyncio.Semaphore(REFRESHES_AT_ONCE)
        self.counters: dict[str, int] = dict.fromkeys(
            [
                "hit",
                "miss",
                "bypass",
                "stale",
                "fill",
                "fill_refused",
                "fill_fenced",
                "fill_full",
                "flight_joined",
                "flight_not_shared",
                "invalidation",
                "invalidation_failed",
                "redis_error",
            ],
            0,
        )

    # -- Redis access through the breaker ------------------------------------------------
    async def _redis(self, op: Callable[..., Awaitable[T]], *args: Any) -> T:
        if not await self._available():
            raise RedisUnavailable
        try:
            async with asyncio.timeout(self.settings.operation_timeout_seconds):
                return await op(*args)
        except REDIS_FAILURES as exc:
            self.counters["redis_error"] += 1
            self.breaker.record_failure()
            log.warning("redis call failed: %s", type(exc).__name__)
            raise RedisUnavailable from exc

    async def through_breaker(self, op: Callable[..., Awaitable[T]], *args: Any) -> T:
        """A store operation through the circuit breaker (`batch`); RedisUnavailable."""
        return await self._redis(op, *args)

    async def _available(self) -> bool:
        if not self.breaker.allow():
            return False
        if self.breaker.state is BreakerState.CLOSED:
            return True
        try:  # half-open: one probe
            async with asyncio.timeout(self.settings.operation_timeout_seconds):
                await self.store.ping()
        except REDIS_FAILURES:
            self.breaker.record_failure()
            return False
        self.breaker.record_success()
        log.info("redis is back: cache re-enabled")
        return True

    # -- reads ----------------------------------------------------------------------------
    async def lookup(self, slots: Sequence[Slot] | Lookup) -> list[Found] | None:
        """One round trip for several entries (`Lookup`: made once by `store.lookup_of`);
        None when Redis is not usable now."""
        try:
            return await self._redis(self.store.lookup, slots)
        except RedisUnavailable:
            return None

    def fresh(self, found: Found, now: int) -> Entry | None:
        entry = found.entry
        ttl_ms = self.settings.ttl_ms(found.slot.key.family)
        if entry is None or entry.generation != found.generation or entry.age_ms(now) > ttl_ms:
            return None
        return entry

    async def get_or_load(
        self, slot: Slot, load: Loader, *, found: Found | None = None, refresh: bool = False
    ) -> Result:
        """The response for `slot`: from the cache if valid, else loaded once and stored."""
        if found is None and not refresh:
            looked = await self.lookup([slot])
            found = looked[0] if looked else None
        if found is not None and not refresh:
            served = self._serve(found)
            if served is not None:
                if served.outcome is Outcome.STALE:
                    self.schedule_refresh(found, load)
                return served
        flight = self._flights.get(slot)
        if flight is not None:
            return await self._join(flight, slot, load, refresh)
        flight = self._flights[slot] = Flight[Result]()
        try:
            result = await self._load(slot, load, found, refresh, flight)
            flight.future.set_result(result)
            return result
        except BaseException as exc:
            flight.future.set_exception(exc)
            flight.future.exception()  # retrieved: no "never retrieved" warning if nobody waited
            raise
        finally:
            if self._flights.get(slot) is flight:
                del self._flights[slot]

    async def _join(
        self, flight: Flight[Result], slot: Slot, load: Loader, refresh: bool
    ) -> Result:
        """Wait for the load in flight; use it only if Redis certified it after we joined."""
        joined = flight.round
        await asyncio.wait({flight.future})  # the leader failing or cancelled is not our end
        future = flight.future
        # A failure is not certified either (a 404 may predate a creation): load for ourselves.
        result = None if future.cancelled() or future.exception() else future.result()
        if result is not None and flight.certified_round >= joined:
            self.counters["flight_joined"] += 1
            return Result(result.body, result.etag, Outcome.MISS)
        self.counters["flight_not_shared"] += 1
        return await self._load(slot, load, None, refresh, Flight[Result]())

    def all_hits(self, found: Sequence[Found]) -> list[Result] | None:
        """Every entry fresh and not marked stale: the HITs (counted); else None, counting
        nothing (`get_or_load` then serves stale, loads or waits, and counts that)."""
        hits = self._hits(found)
        if hits is not None:
            self.counters["hit"] += len(hits)
        return hits

    def hits_then_stale(self, found: Sequence[Found]) -> list[Result] | None:
        """Where `all_hits` found no answer: the hits, with the last entry served STALE (its
        family may be, within the bound); the caller schedules its refresh
        (`schedule_refresh`). None otherwise, counting nothing."""
        if not found or found[-1].stale_since_ms is None:
            return None
        head = self._hits(found[:-1])
        last = self._serve(found[-1]) if head is not None else None
        if head is None or last is None:
            return None
        self.counters["hit"] += len(head)
        return [*head, last]

    def _hits(self, found: Sequence[Found]) -> list[Result] | None:
        now = now_ms()
        entries = [self.fresh(f, now) for f in found]
        hits = [
            Result(entry.body, entry.etag, Outcome.HIT)
            for f, entry in zip(found, entries, strict=True)
            if entry is not None and f.stale_since_ms is None
        ]
        return hits if len(hits) == len(found) else None

    def _serve(self, found: Found) -> Result | None:
        if found.stale_since_ms is None:
            hits = self.all_hits([found])
            return hits[0] if hits else None
        now = now_ms()
        entry = self.fresh(found, now)
        if entry is None:
            return None
        bound_ms = self.settings.stale_bound_seconds * 1000
        stale_for = now - found.stale_since_ms
        if found.slot.key.policy.serve_stale and bound_ms > 0 and stale_for <= bound_ms:
            self.counters["stale"] += 1
            return Result(entry.body, entry.etag, Outcome.STALE, age_s=entry.age_ms(now) // 1000)
        return None

    def schedule_refresh(self, found: Found, load: Loader) -> None:
        """One background refresh per entry and process (the lease covers other processes),
        once the entry is `refresh_spacing_ms` old, or has been stale that long (a refresh a
        write overtook stores its value and leaves the entry stale): the writes of that time
        are recomputed once (README, "Consistency guarantees in plain words", the limits)."""
        slot = found.slot
        if slot in self._refreshing:
            return
        self._refreshing.add(slot)
        now = now_ms()
        age_ms = found.entry.age_ms(now) if found.entry is not None else 0
        stale_ms = now - found.stale_since_ms if found.stale_since_ms is not None else 0
        wait_ms = self.settings.refresh_spacing_ms - max(age_ms, stale_ms)

        async def refresh() -> None:
            try:
                current = found
                if wait_ms > 0:
                    await asyncio.sleep(wait_ms / 1000)
                    current = (await self._redis(self.store.lookup, [slot]))[0]
                    if current.entry is None or current.stale_since_ms is None:
                        return  # refreshed meanwhile, or dropped: the next reader loads it
                async with self._refresh_slots:
                    # "miss": refused if another refresh has already made the entry fresh (a
                    # reader that saw it stale just before that fill would load it again).
                    lease = await self._redis(self._lease, slot, current.generation, "miss")
                    if lease.granted:
                        await self._fill(slot, lease, current.generation, await load())
            except Exception:
                log.exception("background refresh of %s failed", slot.key.scope)
            finally:
                self._refreshing.discard(slot)

        task = asyncio.create_task(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _load(
        self, slot: Slot, load: Loader, found: Found | None, refresh: bool, flight: Flight[Result]
    ) -> Result:
        if found is None:  # Redis unusable, a refresh without lookup, or a fresh start
            looked = await self.lookup([slot])
            if not looked:
                return await self.bypass(load)
            found = looked[0]
            served = None if refresh else self._serve(found)
            if served is not None:
                return served
        try:
            lease = await self._acquire(slot, found, "refresh" if refresh else "miss", flight)
        except RedisUnavailable:
            return await self.bypass(load)
        if isinstance(lease, Result):
            return lease
        if lease.fenced:  # a write is committing: answer from the database, store nothing
            self.counters["fill_fenced"] += 1
            self.counters["miss"] += 1
            fenced = await self._uncached(load, Outcome.MISS)
            return Result(fenced.body, fenced.etag, Outcome.MISS, fill=FillResult.REFUSED)
        try:
            body = await load()
        except BaseException:
            await self._quietly(self.store.release, slot, lease)
            raise
        round_ = flight.next_round()
        fill = await self._fill(slot, lease, found.generation, body)
        if fill is not FillResult.REFUSED:
            flight.certify(round_)
        self.counters["miss"] += 1
        return Result(body, etag_of(body), Outcome.MISS, fill=fill)

    async def _acquire(
        self, slot: Slot, found: Found, mode: str, flight: Flight[Result]
    ) -> Lease | Result:
        """A lease, or the value another reader stored while we waited (bounded wait)."""
        deadline = time.monotonic() + self.settings.stampede_wait_seconds
        while True:
            lease = await self._redis(self._lease, slot, found.generation, mode)
            if lease.granted or lease.fenced:
                return lease
            if time.monotonic() >= deadline:
                mode = "force"  # the first loader takes too long: load ourselves
                continue
            if not lease.filled_meanwhile:
                await asyncio.sleep(min(lease.wait_ms / 1000, self.settings.stampede_poll_seconds))
            round_ = flight.next_round()
            looked = await self._redis(self.store.lookup, [slot])
            served = self._serve(looked[0])
            if served is not None:
                flight.certify(round_)
                return served

    async def _lease(self, slot: Slot, generation: int, mode: str) -> Lease:
        settings = self.settings
        ttl_ms = settings.ttl_ms(slot.key.family)
        return await self.store.lease(
            slot,
            now_ms(),
            settings.lease_ms,
            generation,
            mode,
            ttl_ms,
            settings.young_server_seconds,
        )

    async def _fill(self, slot: Slot, lease: Lease, generation: int, body: bytes) -> FillResult:
        family = slot.key.family
        entry = entry_of(slot, generation, body)
        ttl_ms = self.settings.ttl_ms(family)
        max_fields = self.settings.max_fields(family)
        stored = await self._quietly(self.store.fill, slot, lease, entry, ttl_ms, max_fields)
        result = FillResult.REFUSED if stored is None else FillResult(stored)
        self.count_fill(result)
        return result

    def count_fill(self, result: FillResult) -> None:
        counter = {FillResult.STORED: "fill", FillResult.FULL: "fill_full"}
        self.counters[counter.get(result, "fill_refused")] += 1

    async def bypass(self, load: Loader) -> Result:
        """Answer from the loader alone (Redis is not usable now)."""
        self.counters["bypass"] += 1
        return await self.uncached(load)

    @staticmethod
    async def uncached(load: Loader) -> Result:
        return await CacheManager._uncached(load, Outcome.BYPASS)

    @staticmethod
    async def _uncached(load: Loader, outcome: Outcome) -> Result:
        body = await load()
        return Result(body, etag_of(body), outcome)

    async def _quietly(self, op: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        try:
            return await self._redis(op, *args)
        except RedisUnavailable:
            return None

    # -- invalidation outside a write's fence (the invalidator's, an operator's) ---------------
    async def invalidate(self, keys: Iterable[CacheKey]) -> bool:
        """Drop entries now (writes' fences stay up). False if Redis could not be reached:
        nothing else happens then, the caller decides (the invalidator retries its batch)."""
        keys = list(keys)
        if not keys:
            return True
        try:
            count = await self._redis(self.store.invalidate, keys, now_ms())
            self.counters["invalidation"] += count
            return True
        except RedisUnavailable:
            self.counters["invalidation_failed"] += len(keys)
            return False

    def stats(self) -> dict[str, Any]:
        state = self.breaker.state.value
        return {**self.counters, "breaker": state, "in_flight": len(self._flights)}

    async def aclose(self) -> None:
        await cancel_until_done(list(self._background))
