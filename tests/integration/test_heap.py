"""A started API has moved what it built to start out of the garbage collector's sight
(`bootstrap.settle_heap`): a full collection walks only what requests left alive."""

from __future__ import annotations

import gc

from collabcache_api.main import create_app
from collabcache_shared.settings import ApiSettings, RedisSettings


async def test_a_started_api_leaves_its_startup_objects_out_of_full_collections(
    api_settings: ApiSettings, redis_settings: RedisSettings
) -> None:
    gc.unfreeze()
    application = create_app(api_settings, redis_settings)
    try:
        async with application.router.lifespan_context(application):
            frozen, walked = gc.get_freeze_count(), len(gc.get_objects())
    finally:
        gc.unfreeze()
    assert frozen > walked, (frozen, walked)
