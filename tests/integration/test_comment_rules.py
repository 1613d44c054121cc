"""An author's hold on their comments lasts as long as their right to comment (README, "Who
may do what"): demoted to viewer, they can no longer edit, resolve or delete them; promoted
back, they can; a moderator can delete them whatever became of the author."""

from __future__ import annotations

import httpx

from tests.integration.builders import Builder, Person, Scene

STUDY = "/api/collaboration/studies/{study}"


async def _set_role(client: httpx.AsyncClient, s: Scene, who: Person, role: str) -> None:
    path = STUDY.format(study=s.study_id) + f"/collaborators/{who.id}"
    answer = await client.patch(path, json={"role": role}, headers=s.owner.headers)
    assert answer.status_code == 200, answer.text


async def _author_acts(client: httpx.AsyncClient, s: Scene, comment: str) -> list[int]:
    """Edit, resolve, then delete the editor's own comment: the statuses."""
    headers = s.editor.headers
    return [
        (await client.patch(comment, json={"body": "edited"}, headers=headers)).status_code,
        (await client.patch(comment, json={"resolved": True}, headers=headers)).status_code,
        (await client.delete(comment, headers=headers)).status_code,
    ]


async def _demoted_authors_comment(client: httpx.AsyncClient, s: Scene) -> tuple[str, str]:
    """The editor comments, then is demoted to viewer: (the comments path, the comment's)."""
    comments = STUDY.format(study=s.study_id) + "/comments"
    written = await client.post(comments, json={"body": "mine"}, headers=s.editor.headers)
    assert written.status_code == 201
    await _set_role(client, s, s.editor, "viewer")
    return comments, f"{comments}/{written.json()['id']}"


async def test_a_demoted_author_keeps_no_hold_on_their_comments(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    comments, comment = await _demoted_authors_comment(client, s)
    assert await _author_acts(client, s, comment) == [403, 403, 403]
    listed = await client.get(comments, headers=s.editor.headers)  # still readable
    assert any(c["body"] == "mine" for c in listed.json()["items"])

    await _set_role(client, s, s.editor, "editor")
    assert await _author_acts(client, s, comment) == [200, 200, 204]


async def test_a_moderator_deletes_a_demoted_authors_comment(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    _, comment = await _demoted_authors_comment(client, s)
    assert (await client.delete(comment, headers=s.owner.headers)).status_code == 204
