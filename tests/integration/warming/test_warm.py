"""A warm fills the hot set through the reads' own fenced fill path: the reads it covers are
then HITs holding the very bytes the API answers with the cache off; and a write that commits
between a warm's load and its fill leaves nothing stale behind (README, "Cache warming")."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from collabcache_api.warming import hot_set
from collabcache_api.warming.hot_set import MOST_ACTIVE_USERS
from collabcache_api.warming.run import WarmOptions, warm
from collabcache_shared.settings import ApiSettings
from tests.integration.warming.rows import fetch, headers_of

EVERYONE = WarmOptions(users=1000, studies=1000, concurrency=4)
ORG_PATHS = ("/api/organizations/{}/members", "/api/organizations/{}/teams")
STUDY = "/api/collaboration/studies/{}"
STUDY_PATHS = tuple(STUDY + tail for tail in ("/collaborators", "/comments", "/activity"))


def without_moment(response: httpx.Response) -> object:
    """An analytics body less `generated_at` (when it was computed); other bodies as bytes."""
    body = response.json()
    if isinstance(body, dict) and "generated_at" in body:
        body.pop("generated_at")
        return body
    return response.content


async def _assert_hit_as_cold(
    warmed: httpx.AsyncClient, cold: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    hit = await warmed.get(path, headers=headers)
    assert hit.status_code == 200, (path, hit.text)
    assert hit.headers["x-cache"] == "HIT", path
    answer = await cold.get(path, headers=headers)
    assert without_moment(hit) == without_moment(answer), path


async def test_a_warm_makes_the_hot_set_hits_with_the_cache_off_bytes(
    warm_app: tuple[FastAPI, httpx.AsyncClient],
    cold_client: httpx.AsyncClient,
    warm_db: str,
    warm_settings: ApiSettings,
) -> None:
    app, client = warm_app
    report = await warm(app.state.container, EVERYONE)
    assert report.total("filled") == report.planned > 0
    assert report.total("failed") == report.total("refused") == 0

    users = [r[0] for r in await fetch(warm_db, MOST_ACTIVE_USERS.replace(":n", "$1"), 1000)]
    memberships = await fetch(warm_db, "SELECT organization_id, user_id FROM organization_members")
    collaborations = await fetch(warm_db, "SELECT study_id, user_id FROM study_collaborators")
    warmed_users = set(users)
    assert warmed_users
    for user_id in users:
        headers = headers_of(user_id, warm_settings)
        for path in ("/api/organizations", "/api/collaboration/studies"):
            await _assert_hit_as_cold(client, cold_client, path, headers)
    for org_id, user_id in memberships:
        if user_id in warmed_users:
            headers = headers_of(user_id, warm_settings)
            for path in (*ORG_PATHS, "/api/organizations/{}/analytics"):
                await _assert_hit_as_cold(client, cold_client, path.format(org_id), headers)
    for study_id, user_id in collaborations:
        if user_id in warmed_users:
            headers = headers_of(user_id, warm_settings)
            for path in (*STUDY_PATHS, STUDY + "/permissions"):
                await _assert_hit_as_cold(client, cold_client, path.format(study_id), headers)


async def test_a_write_between_the_warms_load_and_its_fill_leaves_nothing_stale(
    warm_app: tuple[FastAPI, httpx.AsyncClient], warm_db: str, warm_settings: ApiSettings
) -> None:
    """The first fill of a warm is the members of the first organization: while it is loaded
    (its lease held), an owner adds a member and the write commits. The fill is refused, and
    the next read answers the new member."""
    app, client = warm_app
    org_id, owner_id = (
        await fetch(
            warm_db,
            "SELECT DISTINCT ON (organization_id) organization_id, user_id"
            " FROM organization_members WHERE role = 'owner'"
            " ORDER BY organization_id, created_at LIMIT 1",
        )
    )[0]
    first_member = (
        await fetch(
            warm_db,
            "SELECT user_id FROM organization_members WHERE organization_id = $1"
            " ORDER BY created_at LIMIT 1",
            org_id,
        )
    )[0][0]
    newcomer = (
        await fetch(
            warm_db,
            "SELECT id FROM users WHERE id NOT IN"
            " (SELECT user_id FROM organization_members WHERE organization_id = $1) LIMIT 1",
            org_id,
        )
    )[0][0]
    owner = headers_of(owner_id, warm_settings)
    writes: list[int] = []

    async def a_write_commits() -> None:
        if writes:
            return
        added = await client.post(
            f"/api/organizations/{org_id}/members",
            json={"user_id": str(newcomer), "role": "member"},
            headers=owner,
        )
        writes.append(added.status_code)

    options = WarmOptions(users=0, studies=0, concurrency=1)
    report = await warm(app.state.container, options, after_load=a_write_commits)

    assert writes == [201]
    members = await client.get(
        f"/api/organizations/{org_id}/members", headers=headers_of(first_member, warm_settings)
    )
    assert str(newcomer) in {m["user_id"] for m in members.json()["items"]}
    assert members.headers["x-cache"] == "MISS"
    assert report.by_family["ORGANIZATION_MEMBERS"]["refused"] == 1
    assert report.total("refused") == 1


async def test_the_hottest_studies_are_filled_beside_the_hottest_users(
    warm_app: tuple[FastAPI, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The studies' pages are not left until every user's entries are filled: the first
    study's come before the last users', and the organizations' entries before both (one
    user and one study to a batch: this dataset is smaller than one batch of each)."""
    monkeypatch.setattr(hot_set, "USERS_BATCH", 1)
    monkeypatch.setattr(hot_set, "READS_BATCH", 1)
    fills = await hot_set.plan(warm_app[0].state.container, users=1000, studies=1000)
    labels = [fill.label for fill in fills]
    studies = [i for i, label in enumerate(labels) if label.startswith("STUDY_")]
    users = [i for i, label in enumerate(labels) if label.startswith("USER_")]
    assert studies and users
    assert min(studies) < max(users) and min(users) < max(studies)
    assert max(i for i, label in enumerate(labels) if label.startswith("ORGANIZATION_")) < min(
        users
    )
