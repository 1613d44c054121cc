"""Writes to studies, their collaborators and comments, and the cached GETs they change."""

from __future__ import annotations

from collabcache_shared.cache.keys import Family
from tests.integration.cache_http.endpoints import STUDY
from tests.integration.cache_http.writes import (
    ACTIVITY,
    COLLABORATORS,
    COMMENT,
    COMMENTS,
    MY_STUDIES,
    ORG,
    ORG_ANALYTICS,
    PERMISSIONS,
    ROOT,
    STATS,
    TEAM_ANALYTICS,
    Case,
    activities_of,
    becomes,
    comment_body,
    comments_in_window,
    drops,
    id_is,
    lists,
    lose_study,
    member_of,
    moves,
    platform,
    read,
    status_count,
    user_is,
    verb,
    written_id,
)

F = Family


STUDY_CASES: list[Case] = [
    Case(
        "create study",
        "POST",
        ORG + "/studies",
        "member",
        body=lambda ctx: {"title": "Brand New Study"},
        reads=(
            read(
                "member",
                MY_STUDIES,
                lists(written_id),
                F.USER_COLLABORATIVE_STUDIES,
                what="lists it",
            ),
            read(
                "owner",
                ORG_ANALYTICS,
                moves(status_count("draft"), 1),
                F.ORGANIZATION_ANALYTICS,
                what="drafts +1",
            ),
            read(ROOT, STATS, moves(platform("studies"), 1), F.SYSTEM_STATS, what="+1"),
        ),
    ),
    Case(
        "update study",
        "PATCH",
        STUDY,
        "editor",
        body=lambda ctx: {"title": "Retitled Study", "status": "active"},
        reads=(
            *(
                read(
                    who,
                    MY_STUDIES,
                    lists(id_is("study_id", title="Retitled Study")),
                    F.USER_COLLABORATIVE_STUDIES,
                    what="new title",
                )
                for who in ("owner", "editor", "viewer")
            ),
            read("owner", ACTIVITY, verb("updated"), F.STUDY_ACTIVITY, what="logs it"),
            read(
                "owner",
                ORG_ANALYTICS,
                moves(status_count("active"), 1),
                F.ORGANIZATION_ANALYTICS,
                what="active +1",
            ),
            read(ROOT, STATS, moves(status_count("active"), 1), F.SYSTEM_STATS, what="active +1"),
        ),
    ),
    Case(
        "add collaborator",
        "POST",
        COLLABORATORS,
        "owner",
        body=lambda ctx: {"user_id": str(ctx.person("member").id), "role": "editor"},
        reads=(
            read(
                "owner",
                COLLABORATORS,
                lists(user_is("member")),
                F.STUDY_COLLABORATORS,
                what="lists them",
            ),
            read(
                "member",
                MY_STUDIES,
                lists(id_is("study_id", role="editor")),
                F.USER_COLLABORATIVE_STUDIES,
                what="lists the study",
            ),
            read("member", PERMISSIONS, becomes(200), what="404 -> 200"),
            read("member", COMMENTS, becomes(200), what="404 -> 200"),
            read("owner", ACTIVITY, verb("collaborator_added"), F.STUDY_ACTIVITY, what="logs it"),
            read(
                "owner",
                ORG_ANALYTICS,
                moves(activities_of("owner"), 1),
                F.ORGANIZATION_ANALYTICS,
                what="owner's activity +1",
            ),
        ),
    ),
    Case(
        "change collaborator role",
        "PATCH",
        COLLABORATORS + "/{member_id}",
        "owner",
        target="viewer",
        body=lambda ctx: {"role": "editor"},
        reads=(
            read(
                "owner",
                COLLABORATORS,
                lists(member_of("viewer", "editor")),
                F.STUDY_COLLABORATORS,
                what="new role",
            ),
            read(
                "viewer",
                MY_STUDIES,
                lists(id_is("study_id", role="editor")),
                F.USER_COLLABORATIVE_STUDIES,
                what="new role",
            ),
            read(
                "viewer",
                PERMISSIONS,
                lambda b, a, ctx: a.json["can_comment"] is True,
                F.USER_PERMISSIONS,
                what="may comment",
            ),
            read(
                "owner",
                ACTIVITY,
                verb("collaborator_role_changed"),
                F.STUDY_ACTIVITY,
                what="logs it",
            ),
        ),
    ),
    Case(
        "remove collaborator",
        "DELETE",
        COLLABORATORS + "/{member_id}",
        "owner",
        target="editor",
        reads=(
            read(
                "owner",
                COLLABORATORS,
                drops(user_is("editor")),
                F.STUDY_COLLABORATORS,
                what="drops them",
            ),
            read(
                "editor",
                MY_STUDIES,
                drops(id_is("study_id")),
                F.USER_COLLABORATIVE_STUDIES,
                what="drops the study",
            ),
            read("owner", ACTIVITY, verb("collaborator_removed"), F.STUDY_ACTIVITY, what="logs it"),
            *lose_study(
                "editor",
                also={COLLABORATORS: F.STUDY_COLLABORATORS, ACTIVITY: F.STUDY_ACTIVITY},
            ),
        ),
    ),
    Case(
        "add comment",
        "POST",
        COMMENTS,
        "editor",
        body=lambda ctx: {"body": "fresh words"},
        reads=(
            read(
                "viewer", COMMENTS, comment_body("fresh words"), F.STUDY_COMMENTS, what="lists it"
            ),
            read("owner", ACTIVITY, verb("comment_added"), F.STUDY_ACTIVITY, what="logs it"),
            read(
                "owner",
                ORG_ANALYTICS,
                moves(comments_in_window, 1),
                F.ORGANIZATION_ANALYTICS,
                what="comments +1",
            ),
            read(
                "member",
                TEAM_ANALYTICS,
                moves(comments_in_window, 1),
                F.TEAM_ANALYTICS,
                what="the author's team: comments +1",
            ),
            read(ROOT, STATS, moves(platform("comments"), 1), F.SYSTEM_STATS, what="+1"),
        ),
    ),
    Case(
        "edit comment",
        "PATCH",
        COMMENT,
        "editor",
        body=lambda ctx: {"body": "second thoughts"},
        reads=(
            read(
                "viewer",
                COMMENTS,
                comment_body("second thoughts"),
                F.STUDY_COMMENTS,
                what="new words",
            ),
            read("owner", ACTIVITY, verb("comment_edited"), F.STUDY_ACTIVITY, what="logs it"),
        ),
    ),
    Case(
        "resolve comment",
        "PATCH",
        COMMENT,
        "owner",
        body=lambda ctx: {"resolved": True},
        reads=(
            read(
                "viewer",
                COMMENTS,
                lists(id_is("comment_id", resolved=True)),
                F.STUDY_COMMENTS,
                what="resolved",
            ),
            read("owner", ACTIVITY, verb("comment_resolved"), F.STUDY_ACTIVITY, what="logs it"),
        ),
    ),
    Case(
        "delete comment",
        "DELETE",
        COMMENT,
        "owner",
        reads=(
            read("viewer", COMMENTS, drops(id_is("comment_id")), F.STUDY_COMMENTS, what="drops it"),
            read("owner", ACTIVITY, verb("comment_deleted"), F.STUDY_ACTIVITY, what="logs it"),
            read(
                "owner",
                ORG_ANALYTICS,
                moves(comments_in_window, -1),
                F.ORGANIZATION_ANALYTICS,
                what="comments -1",
            ),
            read(
                "member",
                TEAM_ANALYTICS,
                moves(comments_in_window, -1),
                F.TEAM_ANALYTICS,
                what="the author's team: comments -1",
            ),
            read(ROOT, STATS, moves(platform("comments"), -1), F.SYSTEM_STATS, what="-1"),
        ),
    ),
]
