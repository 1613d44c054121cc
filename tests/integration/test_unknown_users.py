"""A validly signed token naming no user (never one, or deleted) is answered 401 on every
authenticated route, and nothing is cached for it; a known user's cache hit still costs no
query (README, "Security")."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from redis.asyncio import Redis

from collabcache_api.security import issue_token
from collabcache_shared.cache.keys import Family, KeySpace
from collabcache_shared.settings import ApiSettings
from tests.integration.builders import Builder, Scene
from tests.integration.cache_http.endpoints import CACHED_GETS
from tests.integration.statements import StatementCounter

PARAMETER = re.compile(r"\{(\w+)\}")


def _routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path template) of the API's schema that asks for a bearer token."""
    routes = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if "401" in operation.get("responses", {}):
                routes.append((method.upper(), path))
    return routes


def _fill(template: str, s: Scene) -> str:
    ids = {
        "org_id": s.org_id,
        "team_id": s.team_id,
        "study_id": s.study_id,
        "comment_id": s.comment_id,
        "member_id": s.member.id,
        "user_id": s.member.id,
    }
    return PARAMETER.sub(lambda m: str(ids[m.group(1)]), template)


async def test_a_token_of_no_user_gets_401_everywhere_and_caches_nothing(
    app: Any,
    client: httpx.AsyncClient,
    build: Builder,
    api_settings: ApiSettings,
    redis: Redis,
    app_keyspace: KeySpace,
) -> None:
    s = await build.scene()
    ghost = uuid.uuid4()
    headers = {"Authorization": f"Bearer {issue_token(ghost, api_settings)}"}
    routes = _routes(app)
    assert len(routes) >= 25  # the whole API, not a sample
    answers = {}
    for method, template in routes:
        body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
        response = await client.request(method, _fill(template, s), json=body, headers=headers)
        answers[f"{method} {template}"] = response.status_code
    assert set(answers.values()) == {401}, {k: v for k, v in answers.items() if v != 401}

    root = app_keyspace.root
    assert [k async for k in redis.scan_iter(match=f"{root}:*{ghost}*")] == []


async def test_a_known_users_hit_still_costs_no_query(
    client: httpx.AsyncClient, scene: Scene, sql: StatementCounter
) -> None:
    for get in CACHED_GETS:
        if get.family is Family.SYSTEM_STATS:
            continue  # /api/admin/*: the platform-admin flag is read per request, on purpose
        caller = get.caller(scene)
        await client.get(get.path(scene), headers=caller.headers)
        sql.statements.clear()
        again = await client.get(get.path(scene), headers=caller.headers)
        assert again.headers["x-cache"] == "HIT", get.route
        assert sql.statements == [], get.route
