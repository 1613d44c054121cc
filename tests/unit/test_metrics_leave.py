"""At shutdown the metrics service leaves its groups only once its subscribers' reads have
ended: FastStream cancels a reading task without waiting for it, and a read still reaching
Redis after XGROUP DELCONSUMER would put the consumer back in the group for good."""

from __future__ import annotations

import asyncio
from typing import Any

from collabcache_metrics.bootstrap import MetricsService
from collabcache_shared.settings import MetricsSettings


class FakeStream:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def leave(self) -> bool:
        self.log.append("left the group")
        return True


class FakeRedis:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def aclose(self) -> None:
        self.log.append("disconnected")


class FakeSubscriber:
    def __init__(self, task: asyncio.Task[None]) -> None:
        self.tasks = [task]


class FakeClaims:
    started = True

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def stop(self) -> None:
        return None

    async def apply_own_pending(self) -> int:
        self.log.append("applied its own pending entries")
        return 0


def _service(log: list[str], reading: asyncio.Task[None]) -> MetricsService:
    nothing: Any = None
    return MetricsService(
        MetricsSettings(),
        FakeRedis(log),  # type: ignore[arg-type]
        [FakeStream(log)],  # type: ignore[list-item]
        [],
        nothing,
        nothing,
        nothing,
        nothing,
        nothing,
        [FakeSubscriber(reading)],  # type: ignore[list-item]
        FakeClaims(log),  # type: ignore[arg-type]
    )


async def test_the_group_is_left_after_a_cancelled_read_has_ended() -> None:
    log: list[str] = []

    async def read() -> None:
        try:
            await asyncio.sleep(30)  # XREADGROUP ... BLOCK
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # the client tearing its connection down
            log.append("read ended")
            raise

    reading = asyncio.create_task(read())
    await asyncio.sleep(0)
    service = _service(log, reading)

    await service.stop_claims()  # on_shutdown, before the broker stops
    reading.cancel()  # the broker's stop: cancelled, not awaited
    await service.close()  # after_shutdown

    assert log == [
        "read ended",
        "applied its own pending entries",
        "left the group",
        "disconnected",
    ]
