"""A write that changes nothing leaves every cached read as true as it was (found by the load
benchmark's oracle: a same-role PATCH once added an activity entry that no event announced, so
the cached activity feed went stale)."""

from __future__ import annotations

import httpx

from tests.integration.builders import Scene


async def test_a_same_role_patch_leaves_the_cached_activity_feed_true(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    feed = f"/api/collaboration/studies/{scene.study_id}/activity"
    headers = scene.owner.headers
    await client.get(feed, headers=headers)
    cached = await client.get(feed, headers=headers)
    assert cached.headers["x-cache"] == "HIT"

    patched = await client.patch(
        f"/api/collaboration/studies/{scene.study_id}/collaborators/{scene.editor.id}",
        json={"role": "editor"},  # the role the editor already has
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["role"] == "editor"

    after = await client.get(feed, headers=headers)
    truth = await client.get(feed, headers={**headers, "Cache-Control": "no-cache"})
    assert after.json() == truth.json(), "the cached feed differs from the database's"
    assert after.json() == cached.json()  # and nothing was recorded for a change of nothing
