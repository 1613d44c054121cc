"""The app's hit path layer (README, "The hit path"), for tests counting what it answers."""

from __future__ import annotations

from typing import Any

from collabcache_api.caching.hit_path import HitPath


def hit_path_of(app: Any) -> HitPath:
    layer = app.middleware_stack
    while not isinstance(layer, HitPath):
        layer = layer.app
    return layer
