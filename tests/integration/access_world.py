"""The cast the access matrix runs against: `build.scene()` plus a few people and rows that let
every rule be asked in isolation (a bystander to remove, a newcomer to add, a second org)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.integration.builders import Builder, Person, Scene

# Columns of the matrix, in the order the table lists them (anonymous is always 401).
CALLERS = ("outsider", "member", "editor", "viewer", "admin", "owner", "platform_admin")
ALL_CALLERS = ("anonymous", *CALLERS)


@dataclass(frozen=True)
class World:
    scene: Scene
    # An org member, member of the team and viewer of the study: the target of "remove
    # somebody else" cases, so that no caller is removing themselves.
    bystander: Person
    # A user in no organization: the target of "add a member" cases.
    newcomer: Person
    # A comment of the study owner (the scene's comment is the editor's).
    owner_comment_id: uuid.UUID
    # The outsider owns an organization of their own (cross-tenant isolation).
    other_org_id: uuid.UUID

    def caller(self, name: str) -> Person | None:
        return None if name == "anonymous" else getattr(self.scene, name)

    def headers(self, name: str) -> dict[str, str]:
        person = self.caller(name)
        return person.headers if person else {}

    def ids(self, caller: str) -> dict[str, str]:
        """What the path and body templates of the table may name."""
        s = self.scene
        person = self.caller(caller)
        return {
            "org": str(s.org_id),
            "team": str(s.team_id),
            "study": str(s.study_id),
            "comment": str(s.comment_id),
            "owner_comment": str(self.owner_comment_id),
            "owner": str(s.owner.id),
            "admin": str(s.admin.id),
            "member": str(s.member.id),
            "editor": str(s.editor.id),
            "viewer": str(s.viewer.id),
            "bystander": str(self.bystander.id),
            "newcomer": str(self.newcomer.id),
            "self": str(person.id if person else uuid.uuid4()),
            "unique": f"org-{uuid.uuid4().hex}",
        }


async def build_world(build: Builder) -> World:
    scene = await build.scene()
    bystander = await build.user("bystander")
    await build.member(scene.org_id, bystander)
    await build.db.execute(
        "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)", scene.team_id, bystander.id
    )
    await build.collaborator(scene.study_id, bystander, "viewer")
    owner_comment_id = await build.comment(scene.study_id, scene.owner, "owner's comment")
    other_org_id = await build.org(scene.outsider, "Elsewhere")
    await build.team(other_org_id, scene.outsider)
    await build.study(other_org_id, scene.outsider, "Elsewhere study")
    newcomer = await build.user("newcomer")
    return World(scene, bystander, newcomer, owner_comment_id, other_org_id)


def fill(template: Any, ids: dict[str, str]) -> Any:
    """Fill `{name}` placeholders in a path or (recursively) in a JSON body."""
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    return template


async def call(
    client: httpx.AsyncClient,
    world: World,
    caller: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    ids = world.ids(caller)
    return await client.request(
        method,
        fill(path, ids),
        json=fill(body, ids) if body is not None else None,
        headers=world.headers(caller),
    )
