"""Keyset pagination: walking `next_cursor` to the end sees every item exactly once, in order,
whatever the page size, with ties on the timestamp and with inserts during the walk; cursors
are opaque."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.builders import Builder, Scene


def _key(item: dict[str, Any]) -> str:
    return str(item.get("id") or item["user_id"])


async def walk(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], limit: int
) -> tuple[list[str], list[int], list[str]]:
    """Every page until `next_cursor` is None: (ids in order, page sizes, cursors)."""
    ids: list[str] = []
    sizes: list[int] = []
    cursors: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(100):
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [_key(item) for item in page["items"]]
        sizes.append(len(page["items"]))
        if page["next_cursor"] is None:
            return ids, sizes, cursors
        cursors.append(page["next_cursor"])
        params["cursor"] = page["next_cursor"]
    raise AssertionError("the walk did not end")


def _comments(study_id: uuid.UUID) -> str:
    return f"/api/collaboration/studies/{study_id}/comments"


async def test_seven_comments_in_pages_of_three(client: httpx.AsyncClient, build: Builder) -> None:
    s = await build.scene()
    posted = []
    for n in range(7):
        r = await client.post(
            _comments(s.study_id), json={"body": f"c{n}"}, headers=s.owner.headers
        )
        assert r.status_code == 201, r.text
        posted.append(r.json()["id"])

    ids, sizes, cursors = await walk(client, _comments(s.study_id), s.owner.headers, limit=3)

    # Oldest first: the scene's own comment, then the seven in the order they were posted.
    assert ids == [str(s.comment_id), *posted]
    assert sizes == [3, 3, 2]
    assert len(cursors) == 2
    for cursor in cursors:
        with pytest.raises(ValueError):
            uuid.UUID(cursor)
        assert not any(item_id in cursor for item_id in ids), "a cursor shows a raw id"


async def test_a_full_last_page_ends_the_walk(client: httpx.AsyncClient, build: Builder) -> None:
    """Exactly `limit` items left: that page says there is no next one (no empty extra page)."""
    s = await build.scene()
    for n in range(5):
        await build.comment(s.study_id, s.editor, f"c{n}")
    ids, sizes, _ = await walk(client, _comments(s.study_id), s.owner.headers, limit=3)
    assert sizes == [3, 3]
    assert len(set(ids)) == 6


async def test_ties_on_the_timestamp_are_ordered_by_id(
    client: httpx.AsyncClient, build: Builder, db: asyncpg.Pool
) -> None:
    s = await build.scene()
    await db.execute("DELETE FROM comments WHERE study_id = $1", s.study_id)
    same_moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    made = [uuid.uuid4() for _ in range(7)]
    await db.executemany(
        "INSERT INTO comments (id, study_id, author_id, body, created_at) "
        "VALUES ($1, $2, $3, 'tie', $4)",
        [(cid, s.study_id, s.editor.id, same_moment) for cid in made],
    )
    ids, sizes, _ = await walk(client, _comments(s.study_id), s.owner.headers, limit=3)
    assert ids == [str(cid) for cid in sorted(made)]
    assert sizes == [3, 3, 1]


async def test_an_insert_during_the_walk_is_seen_once_at_the_end(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    for n in range(4):
        await build.comment(s.study_id, s.editor, f"c{n}")
    path, headers = _comments(s.study_id), s.owner.headers
    first = (await client.get(path, params={"limit": 2}, headers=headers)).json()
    late = await client.post(path, json={"body": "late"}, headers=headers)
    assert late.status_code == 201, late.text

    ids = [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = (
            await client.get(path, params={"limit": 2, "cursor": cursor}, headers=headers)
        ).json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]

    assert len(ids) == len(set(ids)) == 6
    assert ids[-1] == late.json()["id"]


async def test_activity_walks_newest_first(
    client: httpx.AsyncClient, build: Builder, db: asyncpg.Pool
) -> None:
    s = await build.scene()
    for n in range(5):
        r = await client.patch(
            f"/api/collaboration/studies/{s.study_id}",
            json={"title": f"t{n}"},
            headers=s.owner.headers,
        )
        assert r.status_code == 200, r.text
    path = f"/api/collaboration/studies/{s.study_id}/activity"
    ids, sizes, _ = await walk(client, path, s.viewer.headers, limit=2)
    expected = await db.fetch(
        "SELECT id FROM activity WHERE study_id = $1 ORDER BY at DESC, id DESC", s.study_id
    )
    assert ids == [str(r["id"]) for r in expected]
    assert len(ids) == 5
    assert sizes == [2, 2, 1]


async def _busy_scene(build: Builder) -> Scene:
    """A scene where every list the owner can read has at least five items."""
    s = await build.scene()
    for n in range(4):
        await build.org(s.owner, f"Extra org {n}")
        await build.study(s.org_id, s.owner, f"Extra study {n}")
        await build.team(s.org_id, name=f"Extra team {n}")
        await build.comment(s.study_id, s.owner, f"extra {n}")
    for person in (s.owner, s.admin, s.viewer):
        await build.db.execute(
            "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)", s.team_id, person.id
        )
    for person in (s.member, s.admin):
        await build.collaborator(s.study_id, person, "viewer")
    for n in range(5):
        await build.db.execute(
            "INSERT INTO activity (id, study_id, actor_id, verb, object_type) "
            "VALUES ($1, $2, $3, $4, $5)",
            uuid.uuid4(),
            s.study_id,
            s.owner.id,
            f"verb{n}",
            "study",
        )
    return s


LISTS = [
    "/api/organizations",
    "/api/collaboration/studies",
    "/api/organizations/{org}/members",
    "/api/organizations/{org}/teams",
    "/api/teams/{team}/members",
    "/api/collaboration/studies/{study}/collaborators",
    "/api/collaboration/studies/{study}/activity",
    "/api/collaboration/studies/{study}/comments",
]


@pytest.mark.parametrize("template", LISTS)
@pytest.mark.parametrize("limit", [1, 2, 4])
async def test_every_list_walks_to_the_same_items_as_one_page(
    client: httpx.AsyncClient, build: Builder, template: str, limit: int
) -> None:
    s = await _busy_scene(build)
    path = template.format(org=s.org_id, team=s.team_id, study=s.study_id)
    whole = await client.get(path, params={"limit": 200}, headers=s.owner.headers)
    assert whole.status_code == 200, whole.text
    assert whole.json()["next_cursor"] is None
    everything = [_key(item) for item in whole.json()["items"]]
    assert len(everything) >= 5

    ids, sizes, _ = await walk(client, path, s.owner.headers, limit)

    assert ids == everything
    assert all(size == limit for size in sizes[:-1])
    assert 1 <= sizes[-1] <= limit
