"""`API_WARM_ON_START`: one process of a deployment warms (the one that takes the lock); the
app starts that warm in the background when the setting is on, and never when it is off."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from collabcache_api.main import create_app
from collabcache_api.warming.on_start import WARM_LOCK, warm_on_start
from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.settings import ApiSettings, RedisSettings
from tests.integration.invalidator.support import eventually


async def test_of_two_processes_starting_together_one_warms(
    warm_app: tuple[FastAPI, httpx.AsyncClient],
    warm_settings: ApiSettings,
    warm_redis: RedisSettings,
) -> None:
    other = create_app(warm_settings, warm_redis)  # a second worker of the same deployment
    async with other.router.lifespan_context(other):
        reports = await asyncio.gather(
            warm_on_start(warm_app[0].state.container), warm_on_start(other.state.container)
        )
    warmed = [r for r in reports if r is not None]
    assert len(warmed) == 1
    assert warmed[0].total("filled") == warmed[0].planned > 0


async def test_the_setting_starts_the_warm_and_its_absence_does_not(
    warm_settings: ApiSettings, warm_redis: RedisSettings, redis: Redis
) -> None:
    lock = KeySpace(prefix=warm_redis.key_prefix).lock(WARM_LOCK)
    quiet = create_app(warm_settings, warm_redis)
    async with quiet.router.lifespan_context(quiet):
        await asyncio.sleep(0.2)  # time enough for a task started at start to take the lock
        assert not await redis.exists(lock)
    on = warm_settings.model_copy(update={"api_warm_on_start": True})
    app = create_app(on, warm_redis)
    async with app.router.lifespan_context(app):
        await eventually(lambda: _exists(redis, lock), within=5)


async def _exists(redis: Redis, key: str) -> bool:
    return bool(await redis.exists(key))
