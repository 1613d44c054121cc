"""The faults of the history check, each a task that injects its fault in cycles until the
workload's deadline and always leaves the cluster whole (README "Domain events" for the
invalidator's part, "Redis trouble is not your trouble" for Redis's).

Every fault: wait a little, inject, hold, heal; again while a whole cycle still fits.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable

from tests.history.cluster import Cluster
from tests.history.workload import Workload

Fault = Callable[[Cluster, Workload], Awaitable[int]]  # returns how many times it struck
GAP_SECONDS = 0.5  # healthy time before each injection
WRITE_WAIT_SECONDS = 2.0  # longest wait for a write in flight on the replica to kill


async def _cycles(
    workload: Workload,
    hold: float,
    inject: Callable[[], Awaitable[None]],
    heal: Callable[[], Awaitable[None]],
) -> int:
    count = 0
    try:
        while workload.deadline - time.monotonic() > GAP_SECONDS + hold:
            await asyncio.sleep(GAP_SECONDS)
            await inject()
            count += 1
            await asyncio.sleep(hold)
            await heal()
    finally:
        await heal()
    return count


async def no_fault(cluster: Cluster, workload: Workload) -> int:
    return 0


async def invalidator_stop(cluster: Cluster, workload: Workload) -> int:
    """SIGSTOP for 1.5 s, then SIGCONT: domain events wait in the stream."""
    service = cluster.invalidator

    async def stop() -> None:
        cluster.signal(service, signal.SIGSTOP)

    async def resume() -> None:
        cluster.signal(service, signal.SIGCONT)

    return await _cycles(workload, 1.5, stop, resume)


async def invalidator_kill(cluster: Cluster, workload: Workload) -> int:
    """SIGKILL, down for 0.5 s, relaunched (its pending entries are claimed later)."""
    service = cluster.invalidator

    async def kill() -> None:
        await asyncio.to_thread(cluster.kill, service)

    async def relaunch() -> None:
        await cluster.relaunch(service)

    return await _cycles(workload, 0.5, kill, relaunch)


async def redis_pause(cluster: Cluster, workload: Workload) -> int:
    """`CLIENT PAUSE 800 ALL`: connections accepted, nothing answered for 0.8 s."""

    async def pause() -> None:
        await asyncio.to_thread(cluster.redis.pause, 800)

    async def resume() -> None:
        await asyncio.to_thread(cluster.redis.resume)

    return await _cycles(workload, 0.8, pause, resume)


async def redis_freeze(cluster: Cluster, workload: Workload) -> int:
    """SIGSTOP for 1 s: the kernel still accepts connections, the server answers nothing."""

    async def freeze() -> None:
        cluster.redis.freeze()

    async def thaw() -> None:
        cluster.redis.thaw()

    return await _cycles(workload, 1.0, freeze, thaw)


async def redis_restart(cluster: Cluster, workload: Workload) -> int:
    """Restarted empty on the same port (every entry, stream and generation gone)."""

    async def restart() -> None:
        await asyncio.to_thread(cluster.redis.restart)

    async def nothing() -> None:
        return None

    return await _cycles(workload, 1.0, restart, nothing)


async def replica_kill(cluster: Cluster, workload: Workload) -> int:
    """SIGKILL an API replica while a write is in flight on it, then relaunch it (cold)."""
    count = 0
    try:
        while workload.deadline - time.monotonic() > GAP_SECONDS:
            await asyncio.sleep(GAP_SECONDS)
            index = count % len(cluster.replicas)
            if await _write_in_flight(workload, index):
                await asyncio.to_thread(cluster.kill, cluster.replicas[index])
                count += 1
                await asyncio.sleep(0.2)
                await cluster.relaunch(cluster.replicas[index])
    finally:
        await asyncio.gather(*(cluster.relaunch(r) for r in cluster.replicas))
    return count


async def _write_in_flight(workload: Workload, replica: int) -> bool:
    deadline = time.monotonic() + WRITE_WAIT_SECONDS
    while time.monotonic() < deadline:
        if workload.in_flight[replica] > 0:
            return True
        await asyncio.sleep(0.002)
    return False


FAULTS: dict[str, Fault] = {
    "none": no_fault,
    "invalidator SIGSTOP": invalidator_stop,
    "invalidator SIGKILL": invalidator_kill,
    "redis CLIENT PAUSE": redis_pause,
    "redis SIGSTOP": redis_freeze,
    "redis restart": redis_restart,
    "replica SIGKILL mid-write": replica_kill,
}
