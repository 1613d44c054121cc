"""Builds test data straight in SQL, each call with fresh unique rows, and tokens for users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from collabcache_api.security import issue_token
from collabcache_shared.settings import ApiSettings


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Scene:
    """One organization with a cast: owner, admin, member, an outsider and a platform admin;
    a team, and a study with a collaborator (editor) and a viewer, and one comment."""

    org_id: uuid.UUID
    team_id: uuid.UUID
    study_id: uuid.UUID
    comment_id: uuid.UUID
    owner: Person
    admin: Person
    member: Person
    editor: Person
    viewer: Person
    outsider: Person
    platform_admin: Person


class Builder:
    def __init__(self, db: asyncpg.Pool, settings: ApiSettings) -> None:
        self.db = db
        self.settings = settings

    async def user(self, name: str = "user", *, platform_admin: bool = False) -> Person:
        uid = uuid.uuid4()
        email = f"{name}-{uid.hex[:10]}@test.example"
        await self.db.execute(
            "INSERT INTO users (id, email, name, is_platform_admin) VALUES ($1, $2, $3, $4)",
            uid,
            email,
            name.title(),
            platform_admin,
        )
        return Person(uid, email, issue_token(uid, self.settings))

    async def org(self, owner: Person, name: str = "Org") -> uuid.UUID:
        oid = uuid.uuid4()
        await self.db.execute("INSERT INTO organizations (id, name) VALUES ($1, $2)", oid, name)
        await self.member(oid, owner, "owner")
        return oid

    async def member(self, org_id: uuid.UUID, person: Person, role: str = "member") -> None:
        await self.db.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3)",
            org_id,
            person.id,
            role,
        )

    async def team(self, org_id: uuid.UUID, *members: Person, name: str | None = None) -> uuid.UUID:
        tid = uuid.uuid4()
        await self.db.execute(
            "INSERT INTO teams (id, organization_id, name) VALUES ($1, $2, $3)",
            tid,
            org_id,
            name or f"team-{tid.hex[:8]}",
        )
        for m in members:
            await self.db.execute(
                "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)", tid, m.id
            )
        return tid

    async def study(self, org_id: uuid.UUID, owner: Person, title: str = "Study") -> uuid.UUID:
        sid = uuid.uuid4()
        await self.db.execute(
            "INSERT INTO studies (id, organization_id, title, created_by) VALUES ($1, $2, $3, $4)",
            sid,
            org_id,
            title,
            owner.id,
        )
        await self.collaborator(sid, owner, "owner")
        return sid

    async def collaborator(self, study_id: uuid.UUID, person: Person, role: str) -> None:
        await self.db.execute(
            "INSERT INTO study_collaborators (study_id, user_id, role) VALUES ($1, $2, $3)",
            study_id,
            person.id,
            role,
        )

    async def comment(self, study_id: uuid.UUID, author: Person, body: str = "hi") -> uuid.UUID:
        cid = uuid.uuid4()
        await self.db.execute(
            "INSERT INTO comments (id, study_id, author_id, body) VALUES ($1, $2, $3, $4)",
            cid,
            study_id,
            author.id,
            body,
        )
        return cid

    async def scene(self) -> Scene:
        owner, admin, member = (
            await self.user("owner"),
            await self.user("admin"),
            await self.user("member"),
        )
        editor, viewer = await self.user("editor"), await self.user("viewer")
        outsider = await self.user("outsider")
        platform_admin = await self.user("root", platform_admin=True)
        org_id = await self.org(owner)
        await self.member(org_id, admin, "admin")
        await self.member(org_id, member, "member")
        await self.member(org_id, editor, "member")
        await self.member(org_id, viewer, "member")
        team_id = await self.team(org_id, member, editor)
        study_id = await self.study(org_id, owner)
        await self.collaborator(study_id, editor, "editor")
        await self.collaborator(study_id, viewer, "viewer")
        comment_id = await self.comment(study_id, editor, "first comment")
        return Scene(
            org_id,
            team_id,
            study_id,
            comment_id,
            owner,
            admin,
            member,
            editor,
            viewer,
            outsider,
            platform_admin,
        )
