"""The hit path's memos (README, "The hit path") keep only what serves a read, for a path and
query string no longer than a real one: requests a client makes up (paths no route declares,
long ones, pages FastAPI would refuse) make nothing grow."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any, cast

from collabcache_api.caching.hit_path import LONGEST_REMEMBERED, Frame, HitPath
from collabcache_api.guards import HostCheck
from collabcache_api.main import ROUTERS
from collabcache_api.security import issue_token
from collabcache_shared.settings import ApiSettings


async def _fall_through(scope: Any, receive: Any, send: Any) -> None:
    return None


async def _request(hit_path: HitPath, scope: dict[str, Any]) -> None:
    await hit_path(scope, cast(Any, None), cast(Any, None))


def _scope(app: Any, path: str, query: bytes = b"", token: str | None = None) -> dict[str, Any]:
    headers = [(b"host", b"api")]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    return {"type": "http", "method": "GET", "path": path, "query_string": query,
            "headers": headers, "app": app}  # fmt: skip


async def test_made_up_requests_are_not_remembered() -> None:
    settings = ApiSettings(environment="test")
    container = SimpleNamespace(cache=object(), settings=settings, refresh_ahead=None)
    app = SimpleNamespace(state=SimpleNamespace(container=container))
    routes = [route for router in ROUTERS for route in router.routes]
    hit_path = HitPath(_fall_through, routes, Frame(HostCheck(_fall_through, ["*"]), _fall_through))
    token = issue_token(uuid.uuid4(), settings)
    study = f"/api/collaboration/studies/{uuid.uuid4()}/comments"

    for i in range(50):
        await _request(hit_path, _scope(app, f"/no/such/route/{i}"))
        await _request(hit_path, _scope(app, study + "x" * LONGEST_REMEMBERED))
        refused_page = b"x%d=" % i + b"b" * LONGEST_REMEMBERED
        await _request(hit_path, _scope(app, study, refused_page, token))
    assert hit_path._matched == {study: hit_path._matched[study]}  # the one real path
    assert hit_path._prepared == {}
