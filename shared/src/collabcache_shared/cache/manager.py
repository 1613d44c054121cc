"""The cache manager: read-through caching that never serves a stale value, never stampedes,
and never lets a slow or dead Redis fail or hold a request.

- `get_or_load` (the plan's `withCache`): hit, or load once (a per-process single flight and a
  Redis lease across processes), fill only while the lease holds (no stale set).
- Redis errors open the circuit breaker: requests are answered by the loader (BYPASS).
- An invalidation that could not be applied opens the breaker too, and the breaker closes only
  after every family generation was bumped: no entry that missed an invalidation is served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from redis.exceptions import RedisError

from ..settings import CacheSettings
from .breaker import BreakerState, CircuitBreaker
from .entry import Entry, etag_of
from .keys import CacheKey, Family
from .store import EntryStore, Found, Lease, Slot

log = logging.getLogger(__name__)
T = TypeVar("T")
REDIS_FAILURES = (RedisError, OSError, TimeoutError)
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


class RedisUnavailable(Exception):
    pass


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class CacheManager:
    def __init__(
        self, store: EntryStore, settings: CacheSettings, breaker: CircuitBreaker | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.breaker = breaker or CircuitBreaker(
            settings.breaker_failure_threshold, settings.breaker_reset_seconds
        )
        self._flights: dict[Slot, asyncio.Future[Result]] = {}
        self._refreshing: set[Slot] = set()
        self._missed_invalidations = 0  # since the last retirement of every family
        self._background: set[asyncio.Task[None]] = set()
        self.counters: dict[str, int] = dict.fromkeys(
            [
                "hit",
                "miss",
                "bypass",
                "stale",
                "fill",
                "fill_refused",
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

    async def _available(self) -> bool:
        if not self.breaker.allow():
            return False
        if self.breaker.state is BreakerState.CLOSED:
            return True
        missed = self._missed_invalidations
        try:  # half-open: probe, and retire everything if an invalidation was missed
            async with asyncio.timeout(self.settings.operation_timeout_seconds):
                await self.store.ping()
                if missed:
                    await self.store.retire_all()
        except REDIS_FAILURES:
            self.breaker.record_failure()
            return False
        if self._missed_invalidations != missed:
            return False  # one more was missed during the probe (breaker tripped): retire again
        self._missed_invalidations = 0
        self.breaker.record_success()
        log.info("redis is back: cache re-enabled")
        return True

    # -- reads ----------------------------------------------------------------------------
    async def lookup(self, slots: Sequence[Slot]) -> list[Found] | None:
        """One round trip for several entries; None when Redis is not usable now."""
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
                    self.schedule_refresh(slot, load, found.generation)
                return served
        return await self._single_flight(slot, lambda: self._load(slot, load, found, refresh))

    def _serve(self, found: Found) -> Result | None:
        now = now_ms()
        entry = self.fresh(found, now)
        if entry is None:
            return None
        if found.stale_since_ms is None:
            self.counters["hit"] += 1
            return Result(entry.body, entry.etag, Outcome.HIT)
        bound_ms = self.settings.stale_bound_seconds * 1000
        stale_for = now - found.stale_since_ms
        if found.slot.key.policy.serve_stale and bound_ms > 0 and stale_for <= bound_ms:
            self.counters["stale"] += 1
            return Result(entry.body, entry.etag, Outcome.STALE, age_s=entry.age_ms(now) // 1000)
        return None

    def schedule_refresh(self, slot: Slot, load: Loader, generation: int) -> None:
        """One background refresh per entry and process (the lease covers other processes)."""
        if slot in self._refreshing:
            return
        self._refreshing.add(slot)

        async def refresh() -> None:
            try:
                # "miss": refused if another refresh has already made the entry fresh (a
                # reader that saw it stale just before that fill would load it again).
                lease = await self._redis(self._lease, slot, generation, "miss")
                if lease.granted:
                    await self._fill(slot, lease, generation, await load())
            except Exception:
                log.exception("background refresh of %s failed", slot.key.scope)
            finally:
                self._refreshing.discard(slot)

        task = asyncio.create_task(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _single_flight(self, slot: Slot, run: Callable[[], Awaitable[Result]]) -> Result:
        flight = self._flights.get(slot)
        if flight is not None:
            result = await asyncio.shield(flight)
            return Result(result.body, result.etag, Outcome.MISS)
        flight = asyncio.get_running_loop().create_future()
        self._flights[slot] = flight
        try:
            result = await run()
            flight.set_result(result)
            return result
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: no "never retrieved" warning if nobody waited
            raise
        finally:
            del self._flights[slot]

    async def _load(self, slot: Slot, load: Loader, found: Found | None, refresh: bool) -> Result:
        if found is None:  # Redis unusable, or a refresh without lookup
            looked = await self.lookup([slot])
            if not looked:
                return await self.bypass(load)
            found = looked[0]
        try:
            lease = await self._acquire(slot, found, "refresh" if refresh else "miss")
        except RedisUnavailable:
            return await self.bypass(load)
        if isinstance(lease, Result):
            return lease
        try:
            body = await load()
        except BaseException:
            await self._quietly(self.store.release, slot, lease)
            raise
        await self._fill(slot, lease, found.generation, body)
        self.counters["miss"] += 1
        return Result(body, etag_of(body), Outcome.MISS)

    async def _acquire(self, slot: Slot, found: Found, mode: str) -> Lease | Result:
        """A lease, or the value another reader stored while we waited (bounded wait)."""
        deadline = time.monotonic() + self.settings.stampede_wait_seconds
        while True:
            lease = await self._redis(self._lease, slot, found.generation, mode)
            if lease.granted:
                return lease
            if time.monotonic() >= deadline:
                mode = "force"  # the first loader takes too long: load ourselves
                continue
            if not lease.filled_meanwhile:
                await asyncio.sleep(min(lease.wait_ms / 1000, self.settings.stampede_poll_seconds))
            looked = await self._redis(self.store.lookup, [slot])
            served = self._serve(looked[0])
            if served is not None:
                return served

    async def _lease(self, slot: Slot, generation: int, mode: str) -> Lease:
        ttl_ms = self.settings.ttl_ms(slot.key.family)
        return await self.store.lease(
            slot, now_ms(), self.settings.lease_ms, generation, mode, ttl_ms
        )

    async def _fill(self, slot: Slot, lease: Lease, generation: int, body: bytes) -> None:
        entry = Entry(generation, now_ms(), etag_of(body), body)
        ttl_ms = self.settings.ttl_ms(slot.key.family)
        stored = await self._quietly(self.store.fill, slot, lease, entry, ttl_ms)
        self.counters["fill" if stored else "fill_refused"] += 1

    async def bypass(self, load: Loader) -> Result:
        """Answer from the loader alone (Redis is not usable now)."""
        self.counters["bypass"] += 1
        return await self.uncached(load)

    @staticmethod
    async def uncached(load: Loader) -> Result:
        body = await load()
        return Result(body, etag_of(body), Outcome.BYPASS)

    async def _quietly(self, op: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        try:
            return await self._redis(op, *args)
        except RedisUnavailable:
            return None

    # -- writes ---------------------------------------------------------------------------
    async def invalidate(self, keys: Iterable[CacheKey]) -> bool:
        """Apply a write's invalidations. On failure the cache stays off until Redis answers
        again and every family was retired, so no skipped invalidation is ever observable."""
        keys = list(keys)
        if not keys:
            return True
        try:
            count = await self._redis(self.store.invalidate, keys, now_ms())
            self.counters["invalidation"] += count
            return True
        except RedisUnavailable:
            self.counters["invalidation_failed"] += len(keys)
            self._missed()
            return False

    async def invalidate_family(self, family: Family) -> bool:
        try:
            await self._redis(self.store.retire, [family])
            return True
        except RedisUnavailable:
            self._missed()
            return False

    def _missed(self) -> None:
        """An invalidation could not be applied: cache off until every family is retired.

        Recovery is not left to the next request: a background task probes Redis every
        `breaker_reset_seconds`, so the retirement (which other replicas see at once) happens
        as soon as Redis answers, whether or not this process gets traffic.
        """
        self._missed_invalidations += 1
        self.breaker.trip()
        if not any(t.get_name() == "cache-recovery" for t in self._background):
            task = asyncio.create_task(self._recover(), name="cache-recovery")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _recover(self) -> None:
        while self._missed_invalidations:
            await asyncio.sleep(self.settings.breaker_reset_seconds)
            await self._available()

    # -- the plan's plain operations ----------------------------------------------------------
    async def get(self, slot: Slot) -> bytes | None:
        looked = await self.lookup([slot])
        entry = self.fresh(looked[0], now_ms()) if looked else None
        return entry.body if entry is not None else None

    async def set(self, slot: Slot, body: bytes) -> bool:
        """Store unconditionally (takes the lease over): for warming, never for read-through."""
        looked = await self.lookup([slot])
        if not looked:
            return False
        generation = looked[0].generation
        try:
            lease = await self._redis(self._lease, slot, generation, "force")
        except RedisUnavailable:
            return False
        await self._fill(slot, lease, generation, body)
        return True

    async def delete(self, *keys: CacheKey) -> bool:
        return await self.invalidate(keys)

    def stats(self) -> dict[str, Any]:
        state = self.breaker.state.value
        return {**self.counters, "breaker": state, "in_flight": len(self._flights)}

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
