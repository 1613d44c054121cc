"""The same API with its cache off, its GET routes cached by fastapi-cache2 instead: the
library most FastAPI users reach for, used the way its README shows (bench-only).

`create_app()` builds the real API (`CACHE_ENABLED=false`, query counting as in
`bench.apps.counting_api`) and re-registers each GET route that collabcache caches with
fastapi-cache2's `@cache(expire=...)`: the TTL is collabcache's for the same family, the backend
is `RedisBackend` on the variant's Redis, and the key is built per path + query string + caller
(the bearer token's hash), so one user never receives another's cached response.

What it invalidates: nothing. No write removes an entry; a changed member list, comment thread
or permission is served from Redis until its TTL ends (minutes to a day), including a removed
collaborator's access to what they could read before. Dependencies (authentication, the
database session) still run on every hit, as they do with the decorator. Responses carry
`X-FastAPI-Cache: HIT|MISS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from fastapi.dependencies.utils import get_typed_signature
from fastapi.routing import APIRoute
from fastapi_cache import FastAPICache
from fastapi_cache.backends.redis import RedisBackend
from fastapi_cache.decorator import cache
from starlette.routing import BaseRoute

from bench.apps.counting_api import instrument
from collabcache_shared.cache.keys import Family
from collabcache_shared.settings import CacheSettings, RedisSettings

STUDY = "/api/collaboration/studies/{study_id}"
# The GET routes collabcache caches, and the family whose TTL they get here too.
CACHED_ROUTES: dict[str, Family] = {
    "/api/organizations": Family.USER_ORGANIZATIONS,
    "/api/organizations/{org_id}/members": Family.ORGANIZATION_MEMBERS,
    "/api/organizations/{org_id}/teams": Family.ORGANIZATION_TEAMS,
    "/api/organizations/{org_id}/analytics": Family.ORGANIZATION_ANALYTICS,
    "/api/teams/{team_id}/members": Family.TEAM_MEMBERS,
    "/api/teams/{team_id}/analytics": Family.TEAM_ANALYTICS,
    "/api/collaboration/studies": Family.USER_COLLABORATIVE_STUDIES,
    STUDY + "/collaborators": Family.STUDY_COLLABORATORS,
    STUDY + "/comments": Family.STUDY_COMMENTS,
    STUDY + "/activity": Family.STUDY_ACTIVITY,
    STUDY + "/permissions": Family.USER_PERMISSIONS,
}


def per_caller_key(
    func: Callable[..., Any],
    namespace: str = "",
    *,
    request: Request | None = None,
    response: Response | None = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
) -> str:
    """Path + query + caller: a typical user's key builder for per-user responses."""
    assert request is not None
    caller = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()[:16]
    return f"{namespace}:{request.url.path}?{request.url.query}:{caller}"


def _as_json(endpoint: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Any]]:
    """The endpoint returning its JSON body (what fastapi-cache2's coder stores), not a
    ready-made `Response` (which it cannot encode)."""

    async def body(*args: Any, **kwargs: Any) -> Any:
        response = await endpoint(*args, **kwargs)
        return json.loads(bytes(response.body))

    signature = get_typed_signature(endpoint)
    body.__signature__ = signature.replace(return_annotation=Any)  # type: ignore[attr-defined]
    body.__name__ = endpoint.__name__
    body.__module__ = endpoint.__module__
    return body


def _recache(routes: list[BaseRoute], settings: CacheSettings) -> None:
    """Swap each cached GET route for its fastapi-cache2 version, in the routers the app
    includes (FastAPI resolves included routers lazily, from their own route lists)."""
    for index, route in enumerate(routes):
        included = getattr(route, "original_router", None)
        if included is not None:
            _recache(included.routes, settings)
            continue
        if not isinstance(route, APIRoute) or "GET" not in (route.methods or set()):
            continue
        family = CACHED_ROUTES.get(route.path)
        if family is None:
            continue
        expire = settings.ttl_ms(family) // 1000
        decorated = cache(expire=expire, key_builder=per_caller_key, namespace=family.value)
        routes[index] = APIRoute(
            route.path,
            decorated(_as_json(route.endpoint)),
            methods=["GET"],
            name=route.name,
            response_model=route.response_model,
            responses=route.responses,
            tags=route.tags,
        )


def create_app() -> FastAPI:
    from collabcache_api.main import create_app as product_app

    redis_settings = RedisSettings()
    app = product_app(redis_settings=redis_settings, cache_settings=CacheSettings(enabled=False))
    _recache(app.router.routes, CacheSettings())
    product_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        client = aioredis.Redis.from_url(redis_settings.dsn)
        FastAPICache.init(RedisBackend(client), prefix=f"{redis_settings.key_prefix}:fc2")
        try:
            async with product_lifespan(application) as state:
                yield state
        finally:
            await client.aclose()

    app.router.lifespan_context = lifespan
    return instrument(app)
