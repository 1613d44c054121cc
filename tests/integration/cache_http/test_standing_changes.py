"""A changed or revoked role takes effect on the caller's very next request, compact standing
record or not (README, "Standing records"): the write drops the user's whole entry, and the next
read loads the new record, through the hit path's miss and FastAPI alike."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.builders import Person, Scene
from tests.integration.cache_http.layers import hit_path_of


async def _warm(app: Any, client: httpx.AsyncClient, path: str, caller: Person) -> None:
    """Read `path` until the hit path serves it from the cached standing."""
    await client.get(path, headers=caller.headers)
    served = hit_path_of(app).served
    hit = await client.get(path, headers=caller.headers)
    assert (hit.status_code, hit.headers["x-cache"]) == (200, "HIT")
    assert hit_path_of(app).served == served + 1


async def test_a_changed_study_role_shows_on_the_next_request(
    app: Any, client: httpx.AsyncClient, scene: Scene
) -> None:
    path = f"/api/collaboration/studies/{scene.study_id}/permissions"
    member = f"/api/collaboration/studies/{scene.study_id}/collaborators/{scene.viewer.id}"
    await _warm(app, client, path, scene.viewer)

    changed = await client.patch(member, json={"role": "editor"}, headers=scene.owner.headers)
    assert changed.status_code == 200
    now = await client.get(path, headers=scene.viewer.headers)
    assert now.headers["x-cache"] == "MISS"
    assert (now.json()["study_role"], now.json()["can_edit"]) == ("editor", True)

    await _warm(app, client, path, scene.viewer)
    removed = await client.delete(member, headers=scene.owner.headers)
    assert removed.status_code == 204
    served = hit_path_of(app).served
    for read in (path, f"/api/collaboration/studies/{scene.study_id}/comments"):
        assert (await client.get(read, headers=scene.viewer.headers)).status_code == 404
    assert hit_path_of(app).served == served


async def test_a_demoted_or_removed_member_loses_access_on_the_next_request(
    app: Any, client: httpx.AsyncClient, scene: Scene
) -> None:
    """An admin sees the study as an organization manager; demoted to member (no collaboration)
    they no longer do; removed, they no longer see the organization or its team."""
    study = f"/api/collaboration/studies/{scene.study_id}/permissions"
    org, team = f"/api/organizations/{scene.org_id}/members", f"/api/teams/{scene.team_id}/members"
    membership = f"/api/organizations/{scene.org_id}/members/{scene.admin.id}"
    for path in (study, org, team):
        await _warm(app, client, path, scene.admin)
    assert (await client.get(study, headers=scene.admin.headers)).json()["can_manage_collaborators"]

    demoted = await client.patch(membership, json={"role": "member"}, headers=scene.owner.headers)
    assert demoted.status_code == 200
    assert (await client.get(study, headers=scene.admin.headers)).status_code == 404
    for path in (org, team):
        await _warm(app, client, path, scene.admin)  # a member still sees those

    removed = await client.delete(membership, headers=scene.owner.headers)
    assert removed.status_code == 204
    served = hit_path_of(app).served
    for path in (org, team):
        assert (await client.get(path, headers=scene.admin.headers)).status_code == 404
    assert hit_path_of(app).served == served
