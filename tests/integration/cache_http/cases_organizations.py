"""Writes to organizations, their members and teams, and the cached GETs they change."""

from __future__ import annotations

from collabcache_shared.cache.keys import Family
from tests.integration.cache_http.writes import (
    COMMENTS,
    IN_ORG,
    MEMBERS,
    MINE,
    ORG,
    ORG_ANALYTICS,
    PERMISSIONS,
    ROOT,
    STATS,
    TEAM,
    TEAM_ANALYTICS,
    TEAM_MEMBERS,
    TEAMS,
    Case,
    Read,
    becomes,
    drops,
    id_is,
    lists,
    lose_study,
    member_count,
    member_of,
    moves,
    platform,
    read,
    role_count,
    team_count,
    user_is,
    written_id,
)

F = Family


def _lose_org(who: str) -> tuple[Read, ...]:
    """Everything of the organization a removed member could read before."""
    gone = becomes(404)
    return (
        read(who, MEMBERS, gone, F.USER_PERMISSIONS, F.ORGANIZATION_MEMBERS, what="404"),
        read(who, TEAMS, gone, F.USER_PERMISSIONS, F.ORGANIZATION_TEAMS, what="404"),
        read(who, ORG_ANALYTICS, gone, F.USER_PERMISSIONS, what="404"),
        read(who, TEAM_MEMBERS, gone, F.USER_PERMISSIONS, F.TEAM_MEMBERS, what="404"),
        read(who, TEAM_ANALYTICS, gone, F.USER_PERMISSIONS, what="404"),
    )


ORGANIZATION_CASES: list[Case] = [
    Case(
        "create organization",
        "POST",
        MINE,
        "member",
        body=lambda ctx: {"name": "Brand New Org"},
        reads=(
            read("member", MINE, lists(written_id), F.USER_ORGANIZATIONS, what="lists it"),
            read(ROOT, STATS, moves(platform("organizations"), 1), F.SYSTEM_STATS, what="+1"),
        ),
    ),
    Case(
        "rename organization",
        "PATCH",
        ORG,
        "admin",
        body=lambda ctx: {"name": "Renamed Org"},
        reads=tuple(
            read(
                who,
                MINE,
                lists(id_is("org_id", name="Renamed Org")),
                F.USER_ORGANIZATIONS,
                what="new name",
            )
            for who in IN_ORG
        ),
    ),
    Case(
        "add organization member",
        "POST",
        MEMBERS,
        "owner",
        newcomer=True,
        body=lambda ctx: {"user_id": str(ctx.person("newcomer").id), "role": "member"},
        reads=(
            read(
                "owner",
                MEMBERS,
                lists(user_is("newcomer")),
                F.ORGANIZATION_MEMBERS,
                what="lists the newcomer",
            ),
            read(
                "newcomer", MINE, lists(id_is("org_id")), F.USER_ORGANIZATIONS, what="lists the org"
            ),
            read("newcomer", MEMBERS, becomes(200), what="404 -> 200"),
            read("newcomer", ORG_ANALYTICS, becomes(200), what="404 -> 200"),
            read(
                "owner",
                ORG_ANALYTICS,
                moves(role_count("member"), 1),
                F.ORGANIZATION_ANALYTICS,
                what="members +1",
            ),
        ),
    ),
    Case(
        "promote organization member",
        "PATCH",
        MEMBERS + "/{member_id}",
        "owner",
        target="member",
        body=lambda ctx: {"role": "admin"},
        reads=(
            read(
                "owner",
                MEMBERS,
                lists(member_of("member", "admin")),
                F.ORGANIZATION_MEMBERS,
                what="new role",
            ),
            read(
                "member",
                MINE,
                lists(id_is("org_id", role="admin")),
                F.USER_ORGANIZATIONS,
                what="new role",
            ),
            read(
                "member",
                PERMISSIONS,
                becomes(200),
                what="manager sees the study",
            ),
            read("member", COMMENTS, becomes(200), what="manager sees the study"),
            read(
                "owner",
                ORG_ANALYTICS,
                moves(role_count("admin"), 1),
                F.ORGANIZATION_ANALYTICS,
                what="admins +1",
            ),
        ),
    ),
    Case(
        "demote organization admin",
        "PATCH",
        MEMBERS + "/{member_id}",
        "owner",
        target="admin",
        body=lambda ctx: {"role": "member"},
        reads=(
            read(
                "owner",
                MEMBERS,
                lists(member_of("admin", "member")),
                F.ORGANIZATION_MEMBERS,
                what="new role",
            ),
            *lose_study("admin"),
        ),
    ),
    Case(
        "remove organization member",
        "DELETE",
        MEMBERS + "/{member_id}",
        "owner",
        target="member",
        reads=(
            read(
                "owner",
                MEMBERS,
                drops(user_is("member")),
                F.ORGANIZATION_MEMBERS,
                what="drops them",
            ),
            read(
                "member", MINE, drops(id_is("org_id")), F.USER_ORGANIZATIONS, what="drops the org"
            ),
            read(
                "owner",
                TEAM_MEMBERS,
                drops(user_is("member")),
                F.TEAM_MEMBERS,
                what="drops them from the team",
            ),
            read("owner", TEAMS, moves(team_count, -1), F.ORGANIZATION_TEAMS, what="count -1"),
            read(
                "owner", TEAM_ANALYTICS, moves(member_count, -1), F.TEAM_ANALYTICS, what="count -1"
            ),
            read(
                "owner",
                ORG_ANALYTICS,
                moves(role_count("member"), -1),
                F.ORGANIZATION_ANALYTICS,
                what="members -1",
            ),
            *_lose_org("member"),
        ),
    ),
    Case(
        "create team",
        "POST",
        TEAMS,
        "admin",
        body=lambda ctx: {"name": "Brand New Team"},
        reads=(
            read("member", TEAMS, lists(written_id), F.ORGANIZATION_TEAMS, what="lists it"),
            read(ROOT, STATS, moves(platform("teams"), 1), F.SYSTEM_STATS, what="+1"),
        ),
    ),
    Case(
        "rename team",
        "PATCH",
        TEAM,
        "owner",
        body=lambda ctx: {"name": "Renamed Team"},
        reads=(
            read(
                "member",
                TEAMS,
                lists(id_is("team_id", name="Renamed Team")),
                F.ORGANIZATION_TEAMS,
                what="new name",
            ),
        ),
    ),
    Case(
        "delete team",
        "DELETE",
        TEAM,
        "owner",
        reads=(
            read("member", TEAMS, drops(id_is("team_id")), F.ORGANIZATION_TEAMS, what="drops it"),
            read(
                "member", TEAM_MEMBERS, becomes(404), F.TEAM_MEMBERS, F.USER_PERMISSIONS, what="404"
            ),
            # analytics are marked stale, not dropped: only the members' standing answers 404
            *(
                read(who, TEAM_ANALYTICS, becomes(404), F.USER_PERMISSIONS, what="404")
                for who in ("member", "editor", "admin")
            ),
            read(ROOT, STATS, moves(platform("teams"), -1), F.SYSTEM_STATS, what="-1"),
        ),
    ),
    Case(
        "add team member",
        "POST",
        TEAM_MEMBERS,
        "admin",
        body=lambda ctx: {"user_id": str(ctx.person("viewer").id)},
        reads=(
            read(
                "owner", TEAM_MEMBERS, lists(user_is("viewer")), F.TEAM_MEMBERS, what="lists them"
            ),
            read("owner", TEAMS, moves(team_count, 1), F.ORGANIZATION_TEAMS, what="count +1"),
            read(
                "owner", TEAM_ANALYTICS, moves(member_count, 1), F.TEAM_ANALYTICS, what="count +1"
            ),
        ),
    ),
    Case(
        "remove team member",
        "DELETE",
        TEAM_MEMBERS + "/{member_id}",
        "owner",
        target="editor",
        reads=(
            read(
                "owner", TEAM_MEMBERS, drops(user_is("editor")), F.TEAM_MEMBERS, what="drops them"
            ),
            read("owner", TEAMS, moves(team_count, -1), F.ORGANIZATION_TEAMS, what="count -1"),
            read(
                "owner", TEAM_ANALYTICS, moves(member_count, -1), F.TEAM_ANALYTICS, what="count -1"
            ),
        ),
    ),
]
