"""One rule says who sees a team, a member of its organization (`access.require_team_member`),
on every team route as for the cached standing: a team the caller may not see and a team that
does not exist are refused with the same 404, by the same queries (README, "Security")."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.builders import Scene
from tests.integration.statements import StatementCounter

ROUTES = {
    "rename": ("PATCH", "/api/teams/{team}", {"name": "Renamed"}),
    "delete": ("DELETE", "/api/teams/{team}", None),
    "add a member": ("POST", "/api/teams/{team}/members", {"user_id": "{member}"}),
    "remove a member": ("DELETE", "/api/teams/{team}/members/{member}", None),
    "members": ("GET", "/api/teams/{team}/members", None),
    "analytics": ("GET", "/api/teams/{team}/analytics", None),
}


async def _refusal(
    client: httpx.AsyncClient, scene: Scene, sql: StatementCounter, route: str, team: uuid.UUID
) -> tuple[int, Any, int]:
    method, template, body = ROUTES[route]
    ids = {"team": team, "member": scene.member.id}
    path = template.format(**ids)
    payload = {k: v.format(**ids) for k, v in body.items()} if body else None
    sql.statements.clear()
    answer = await client.request(method, path, json=payload, headers=scene.outsider.headers)
    return answer.status_code, answer.json(), len(sql.statements)


@pytest.mark.parametrize("route", ROUTES)
async def test_a_hidden_team_is_refused_like_a_missing_one(
    client: httpx.AsyncClient, scene: Scene, sql: StatementCounter, route: str
) -> None:
    await client.get("/api/organizations", headers=scene.outsider.headers)  # they exist
    refusals = {}
    for which, team in (("hidden", scene.team_id), ("missing", uuid.uuid4())):
        await _refusal(client, scene, sql, route, team)  # first: whatever the first one costs
        refusals[which] = await _refusal(client, scene, sql, route, team)
    assert refusals["hidden"] == refusals["missing"]
    assert refusals["hidden"][:2] == (404, {"detail": "Team not found"})
