"""The owner rules over several steps: an organization and a study always keep an owner,
only an owner hands the owner role on, and leaving an organization leaves its teams."""

from __future__ import annotations

import httpx

from tests.integration.builders import Builder


def _path(org_id: object, user_id: object) -> str:
    return f"/api/organizations/{org_id}/members/{user_id}"


async def _roles(
    client: httpx.AsyncClient, org_id: object, headers: dict[str, str]
) -> dict[str, str]:
    response = await client.get(f"/api/organizations/{org_id}/members", headers=headers)
    assert response.status_code == 200, response.text
    return {m["user_id"]: m["role"] for m in response.json()["items"]}


async def test_ownership_is_handed_on_then_the_old_owner_leaves(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    leave = _path(s.org_id, s.owner.id)
    refused = await client.delete(leave, headers=s.owner.headers)
    assert refused.status_code == 409, refused.text
    assert "owner" in refused.json()["detail"]

    granted = await client.patch(
        _path(s.org_id, s.admin.id), json={"role": "owner"}, headers=s.owner.headers
    )
    assert granted.status_code == 200, granted.text
    assert (await client.delete(leave, headers=s.owner.headers)).status_code == 204

    roles = await _roles(client, s.org_id, s.admin.headers)
    assert str(s.owner.id) not in roles
    assert roles[str(s.admin.id)] == "owner"
    # The new owner is now the last one: they cannot step down either.
    demote = await client.patch(
        _path(s.org_id, s.admin.id), json={"role": "member"}, headers=s.admin.headers
    )
    assert demote.status_code == 409, demote.text
    assert (await _roles(client, s.org_id, s.admin.headers))[str(s.admin.id)] == "owner"


async def test_with_two_owners_an_admin_still_cannot_touch_an_owner(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    second = await build.user("second-owner")
    await build.member(s.org_id, second, "owner")
    for method, body in (("PATCH", {"role": "member"}), ("DELETE", None)):
        response = await client.request(
            method, _path(s.org_id, second.id), json=body, headers=s.admin.headers
        )
        assert response.status_code == 403, response.text
    assert (await _roles(client, s.org_id, s.owner.headers))[str(second.id)] == "owner"

    # An owner may demote another owner, and the other may then be removed by an admin.
    demoted = await client.patch(
        _path(s.org_id, second.id), json={"role": "member"}, headers=s.owner.headers
    )
    assert demoted.status_code == 200, demoted.text
    removed = await client.delete(_path(s.org_id, second.id), headers=s.admin.headers)
    assert removed.status_code == 204, removed.text
    assert str(second.id) not in await _roles(client, s.org_id, s.owner.headers)


async def test_one_of_two_owners_may_leave(client: httpx.AsyncClient, build: Builder) -> None:
    s = await build.scene()
    second = await build.user("second-owner")
    await build.member(s.org_id, second, "owner")
    left = await client.delete(_path(s.org_id, second.id), headers=second.headers)
    assert left.status_code == 204, left.text
    # Now the first owner is the last one.
    stays = await client.delete(_path(s.org_id, s.owner.id), headers=s.owner.headers)
    assert stays.status_code == 409, stays.text
    roles = await _roles(client, s.org_id, s.admin.headers)
    assert [u for u, role in roles.items() if role == "owner"] == [str(s.owner.id)]


async def test_a_study_keeps_an_owner(client: httpx.AsyncClient, build: Builder) -> None:
    s = await build.scene()
    collaborators = f"/api/collaboration/studies/{s.study_id}/collaborators"
    leave = f"{collaborators}/{s.owner.id}"
    assert (await client.delete(leave, headers=s.owner.headers)).status_code == 409

    promoted = await client.patch(
        f"{collaborators}/{s.editor.id}", json={"role": "owner"}, headers=s.owner.headers
    )
    assert promoted.status_code == 200, promoted.text
    assert (await client.delete(leave, headers=s.owner.headers)).status_code == 204

    listed = await client.get(collaborators, headers=s.editor.headers)
    roles = {c["user_id"]: c["role"] for c in listed.json()["items"]}
    assert str(s.owner.id) not in roles
    assert roles[str(s.editor.id)] == "owner"
    # The study's owner left, but they own the organization: they still see the study.
    back = await client.get(f"{collaborators}", headers=s.owner.headers)
    assert back.status_code == 200, back.text


async def test_leaving_an_organization_leaves_its_teams(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    members = f"/api/teams/{s.team_id}/members"
    before = await client.get(members, headers=s.owner.headers)
    assert str(s.member.id) in {m["user_id"] for m in before.json()["items"]}

    left = await client.delete(_path(s.org_id, s.member.id), headers=s.member.headers)
    assert left.status_code == 204, left.text

    after = await client.get(members, headers=s.owner.headers)
    assert str(s.member.id) not in {m["user_id"] for m in after.json()["items"]}
    gone = await client.get(f"/api/organizations/{s.org_id}/teams", headers=s.member.headers)
    assert gone.status_code == 404
