from __future__ import annotations

import httpx

from tests.integration.builders import Builder


async def test_owner_sees_organization_and_members(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    r = await client.get("/api/organizations", headers=s.owner.headers)
    assert r.status_code == 200, r.text
    assert [o["id"] for o in r.json()["items"]] == [str(s.org_id)]
    r = await client.get(f"/api/organizations/{s.org_id}/members", headers=s.owner.headers)
    assert r.status_code == 200
    assert len(r.json()["items"]) == 5
    for path in (
        f"/api/organizations/{s.org_id}/teams",
        f"/api/organizations/{s.org_id}/analytics",
        f"/api/teams/{s.team_id}/members",
        f"/api/teams/{s.team_id}/analytics",
        "/api/collaboration/studies",
        f"/api/collaboration/studies/{s.study_id}/collaborators",
        f"/api/collaboration/studies/{s.study_id}/comments",
        f"/api/collaboration/studies/{s.study_id}/activity",
        f"/api/collaboration/studies/{s.study_id}/permissions",
    ):
        r = await client.get(path, headers=s.owner.headers)
        assert r.status_code == 200, (path, r.text)
    r = await client.get("/api/admin/system-stats", headers=s.platform_admin.headers)
    assert r.status_code == 200, r.text
