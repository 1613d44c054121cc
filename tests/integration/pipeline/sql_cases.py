"""The API write table's changes, made instead by hand-written SQL, one transaction each.

Each case names a case of `write_cases.CASES` and does to the database what that write does
(the rows it changes and the activity entry the API logs with it), so that case's reads and
their expectations apply unchanged: nothing but the database triggers, the outbox relay and the
invalidator can make them visible. Two changes the API has no route for (deleting a study, an
organization: both cascade) come with reads of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from collabcache_shared.cache.keys import Family
from tests.integration.cache_http.write_cases import CASES
from tests.integration.cache_http.writes import (
    COMMENTS,
    MEMBERS,
    MINE,
    MY_STUDIES,
    ORG_ANALYTICS,
    ROOT,
    STATS,
    TEAM_MEMBERS,
    Ctx,
    Read,
    becomes,
    drops,
    id_is,
    moves,
    platform,
    read,
    status_count,
)

F = Family
Change = Callable[[asyncpg.Connection, Ctx], Awaitable[None]]


@dataclass(frozen=True)
class SqlCase:
    name: str
    change: Change
    reads: tuple[Read, ...]
    newcomer: bool = False  # a user outside the organization, "newcomer", takes part


def _id(ctx: Ctx, name: str) -> uuid.UUID:
    return ctx.person(name).id


async def _activity(
    conn: asyncpg.Connection,
    study_id: uuid.UUID,
    actor: uuid.UUID,
    verb: str,
    object_type: str,
    object_id: uuid.UUID,
) -> None:
    """The activity entry the API logs with a change to a study (no trigger of its own)."""
    await conn.execute(
        "INSERT INTO activity (id, study_id, actor_id, verb, object_type, object_id) "
        "VALUES (gen_random_uuid(), $1, $2, $3, $4, $5)",
        study_id,
        actor,
        verb,
        object_type,
        object_id,
    )


async def _org_member(conn: asyncpg.Connection, org: uuid.UUID, user: uuid.UUID, role: str) -> None:
    await conn.execute(
        "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3)",
        org,
        user,
        role,
    )


async def _set_org_role(conn: asyncpg.Connection, ctx: Ctx, who: str, role: str) -> None:
    await conn.execute(
        "UPDATE organization_members SET role = $3 WHERE organization_id = $1 AND user_id = $2",
        ctx.scene.org_id,
        _id(ctx, who),
        role,
    )


# -- organizations, members, teams --------------------------------------------------------------
async def create_organization(conn: asyncpg.Connection, ctx: Ctx) -> None:
    org = uuid.uuid4()
    await conn.execute("INSERT INTO organizations (id, name) VALUES ($1, 'Brand New Org')", org)
    await _org_member(conn, org, _id(ctx, "member"), "owner")
    ctx.written = {"id": str(org)}


async def rename_organization(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(
        "UPDATE organizations SET name = 'Renamed Org' WHERE id = $1", ctx.scene.org_id
    )


async def add_organization_member(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await _org_member(conn, ctx.scene.org_id, _id(ctx, "newcomer"), "member")


async def promote_member(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await _set_org_role(conn, ctx, "member", "admin")


async def demote_admin(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await _set_org_role(conn, ctx, "admin", "member")


async def remove_organization_member(conn: asyncpg.Connection, ctx: Ctx) -> None:
    """As the API does: out of the organization's teams, then out of the organization."""
    org, member = ctx.scene.org_id, _id(ctx, "member")
    await conn.execute(
        "DELETE FROM team_members WHERE user_id = $2 "
        "AND team_id IN (SELECT id FROM teams WHERE organization_id = $1)",
        org,
        member,
    )
    await conn.execute(
        "DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2",
        org,
        member,
    )


async def create_team(conn: asyncpg.Connection, ctx: Ctx) -> None:
    team = uuid.uuid4()
    await conn.execute(
        "INSERT INTO teams (id, organization_id, name) VALUES ($1, $2, 'Brand New Team')",
        team,
        ctx.scene.org_id,
    )
    ctx.written = {"id": str(team)}


async def rename_team(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute("UPDATE teams SET name = 'Renamed Team' WHERE id = $1", ctx.scene.team_id)


async def delete_team(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute("DELETE FROM teams WHERE id = $1", ctx.scene.team_id)


async def add_team_member(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(
        "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)",
        ctx.scene.team_id,
        _id(ctx, "viewer"),
    )


async def remove_team_member(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(
        "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2",
        ctx.scene.team_id,
        _id(ctx, "editor"),
    )


# -- studies, collaborators, comments -----------------------------------------------------------
async def create_study(conn: asyncpg.Connection, ctx: Ctx) -> None:
    study, member = uuid.uuid4(), _id(ctx, "member")
    await conn.execute(
        "INSERT INTO studies (id, organization_id, title, created_by) "
        "VALUES ($1, $2, 'Brand New Study', $3)",
        study,
        ctx.scene.org_id,
        member,
    )
    await conn.execute(
        "INSERT INTO study_collaborators (study_id, user_id, role) VALUES ($1, $2, 'owner')",
        study,
        member,
    )
    await _activity(conn, study, member, "created", "study", study)
    ctx.written = {"id": str(study)}


async def update_study(conn: asyncpg.Connection, ctx: Ctx) -> None:
    study = ctx.scene.study_id
    await conn.execute(
        "UPDATE studies SET title = 'Retitled Study', status = 'active' WHERE id = $1", study
    )
    await _activity(conn, study, _id(ctx, "editor"), "updated", "study", study)


async def _collaboration(
    conn: asyncpg.Connection, ctx: Ctx, sql: str, who: str, verb: str, *role: str
) -> None:
    study, user = ctx.scene.study_id, _id(ctx, who)
    await conn.execute(sql, study, user, *role)
    await _activity(conn, study, _id(ctx, "owner"), verb, "user", user)


async def add_collaborator(conn: asyncpg.Connection, ctx: Ctx) -> None:
    sql = "INSERT INTO study_collaborators (study_id, user_id, role) VALUES ($1, $2, $3)"
    await _collaboration(conn, ctx, sql, "member", "collaborator_added", "editor")


async def change_collaborator_role(conn: asyncpg.Connection, ctx: Ctx) -> None:
    sql = "UPDATE study_collaborators SET role = $3 WHERE study_id = $1 AND user_id = $2"
    await _collaboration(conn, ctx, sql, "viewer", "collaborator_role_changed", "editor")


async def remove_collaborator(conn: asyncpg.Connection, ctx: Ctx) -> None:
    sql = "DELETE FROM study_collaborators WHERE study_id = $1 AND user_id = $2"
    await _collaboration(conn, ctx, sql, "editor", "collaborator_removed")


async def add_comment(conn: asyncpg.Connection, ctx: Ctx) -> None:
    comment, study, editor = uuid.uuid4(), ctx.scene.study_id, _id(ctx, "editor")
    await conn.execute(
        "INSERT INTO comments (id, study_id, author_id, body) VALUES ($1, $2, $3, 'fresh words')",
        comment,
        study,
        editor,
    )
    await _activity(conn, study, editor, "comment_added", "comment", comment)


async def _comment(conn: asyncpg.Connection, ctx: Ctx, sql: str, actor: str, verb: str) -> None:
    s = ctx.scene
    await conn.execute(sql, s.comment_id)
    await _activity(conn, s.study_id, _id(ctx, actor), verb, "comment", s.comment_id)


async def edit_comment(conn: asyncpg.Connection, ctx: Ctx) -> None:
    sql = "UPDATE comments SET body = 'second thoughts' WHERE id = $1"
    await _comment(conn, ctx, sql, "editor", "comment_edited")


async def resolve_comment(conn: asyncpg.Connection, ctx: Ctx) -> None:
    sql = "UPDATE comments SET resolved = true WHERE id = $1"
    await _comment(conn, ctx, sql, "owner", "comment_resolved")


async def delete_comment(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await _comment(conn, ctx, "DELETE FROM comments WHERE id = $1", "owner", "comment_deleted")


# -- changes the API has no route for ------------------------------------------------------------
async def delete_study(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute("DELETE FROM studies WHERE id = $1", ctx.scene.study_id)


async def delete_organization(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute("DELETE FROM organizations WHERE id = $1", ctx.scene.org_id)


DELETE_STUDY_READS = (
    read("viewer", MY_STUDIES, drops(id_is("study_id")), F.USER_COLLABORATIVE_STUDIES, what="drop"),
    read("viewer", COMMENTS, becomes(404), F.USER_PERMISSIONS, F.STUDY_COMMENTS, what="404"),
    read(
        "owner",
        ORG_ANALYTICS,
        moves(status_count("draft"), -1),
        F.ORGANIZATION_ANALYTICS,
        what="drafts -1",
    ),
    read(ROOT, STATS, moves(platform("studies"), -1), F.SYSTEM_STATS, what="-1"),
)
DELETE_ORGANIZATION_READS = (
    read("member", MINE, drops(id_is("org_id")), F.USER_ORGANIZATIONS, what="drops it"),
    read("owner", MEMBERS, becomes(404), F.USER_PERMISSIONS, what="404"),
    read("member", TEAM_MEMBERS, becomes(404), F.USER_PERMISSIONS, what="404"),
    read("viewer", COMMENTS, becomes(404), F.USER_PERMISSIONS, what="404"),
    read(ROOT, STATS, moves(platform("organizations"), -1), F.SYSTEM_STATS, what="-1"),
)

# The API case each change stands for (its reads are reused as they are).
CHANGES: dict[str, Change] = {
    "create organization": create_organization,
    "rename organization": rename_organization,
    "add organization member": add_organization_member,
    "promote organization member": promote_member,
    "demote organization admin": demote_admin,
    "remove organization member": remove_organization_member,
    "create team": create_team,
    "rename team": rename_team,
    "delete team": delete_team,
    "add team member": add_team_member,
    "remove team member": remove_team_member,
    "create study": create_study,
    "update study": update_study,
    "add collaborator": add_collaborator,
    "change collaborator role": change_collaborator_role,
    "remove collaborator": remove_collaborator,
    "add comment": add_comment,
    "edit comment": edit_comment,
    "resolve comment": resolve_comment,
    "delete comment": delete_comment,
}

SQL_CASES: list[SqlCase] = [
    *(SqlCase(c.name, CHANGES[c.name], c.reads, c.newcomer) for c in CASES if c.name in CHANGES),
    SqlCase("delete study (SQL only)", delete_study, DELETE_STUDY_READS),
    SqlCase("delete organization (SQL only)", delete_organization, DELETE_ORGANIZATION_READS),
]
