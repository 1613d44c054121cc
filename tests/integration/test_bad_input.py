"""Bad input gets a clear 4xx with a JSON `detail`, never a 5xx, and changes nothing.

Every request is made by the organization's owner (who may do everything), so a refusal can
only be the input's fault. A `detail` string must contain the expected words; a validation
`detail` (a list) must name the offending field in some error's `loc`.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.integration.access_world import fill
from tests.integration.builders import Builder
from tests.integration.state import changed_parts, snapshot

ORG = "/api/organizations/{org}"
TEAM = "/api/teams/{team}"
STUDY = "/api/collaboration/studies/{study}"
COMMENT = STUDY + "/comments/{comment}"
LONG_COMMENT = "x" * 10_001
LONG_NAME = "n" * 201
# A well-formed id inside cursors (placeholders cannot be filled in once base64-encoded).
SOME_ID = str(uuid.uuid4())


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def case(label: str, method: str, path: str, body: Any, status: int, expect: str) -> Any:
    """One bad request: what the owner sends, the status, and what `detail` must name."""
    return pytest.param(method, path, body, status, expect, id=label)


MALFORMED_IDS = [
    case("org id", "GET", "/api/organizations/not-a-uuid/members", None, 422, "org_id"),
    case("org id on write", "PATCH", "/api/organizations/123", {"name": "x"}, 422, "org_id"),
    case("member id", "PATCH", ORG + "/members/abc", {"role": "admin"}, 422, "member_id"),
    case("team id", "DELETE", "/api/teams/zzz", None, 422, "team_id"),
    case("team member id", "DELETE", TEAM + "/members/1", None, 422, "member_id"),
    case("study id", "GET", "/api/collaboration/studies/abc/comments", None, 422, "study_id"),
    case("collaborator id", "DELETE", STUDY + "/collaborators/x", None, 422, "member_id"),
    case("comment id", "PATCH", STUDY + "/comments/1", {"body": "x"}, 422, "comment_id"),
]
UNKNOWN_IDS = [
    case("org", "GET", "/api/organizations/{random}/members", None, 404, "Organization not found"),
    case("org rename", "PATCH", "/api/organizations/{random}", {"name": "x"}, 404, "not found"),
    case("org team", "POST", "/api/organizations/{random}/teams", {"name": "x"}, 404, "not found"),
    case("org study", "POST", "/api/organizations/{random}/studies", {"title": "x"}, 404, "not"),
    case("team", "PATCH", "/api/teams/{random}", {"name": "x"}, 404, "Team not found"),
    case("team delete", "DELETE", "/api/teams/{random}", None, 404, "Team not found"),
    case("team analytics", "GET", "/api/teams/{random}/analytics", None, 404, "Team not found"),
    case("study", "PATCH", "/api/collaboration/studies/{random}", {"title": "x"}, 404, "Study"),
    case("study comments", "GET", "/api/collaboration/studies/{random}/comments", None, 404, "St"),
    case("comment", "PATCH", STUDY + "/comments/{random}", {"body": "x"}, 404, "Comment not"),
    case("comment delete", "DELETE", STUDY + "/comments/{random}", None, 404, "Comment not"),
    case("comment of another study", "DELETE", STUDY + "/comments/{elsewhere}", None, 404, "Com"),
    case("org member", "PATCH", ORG + "/members/{random}", {"role": "admin"}, 404, "Member not"),
    case("org member delete", "DELETE", ORG + "/members/{random}", None, 404, "Member not found"),
    case("collaborator", "PATCH", STUDY + "/collaborators/{random}", {"role": "editor"}, 404, "Co"),
    case("collaborator delete", "DELETE", STUDY + "/collaborators/{random}", None, 404, "Collab"),
    case("team member delete", "DELETE", TEAM + "/members/{random}", None, 404, "Team member"),
    case("user to org", "POST", ORG + "/members", {"user_id": "{random}"}, 404, "User"),
    case("user to study", "POST", STUDY + "/collaborators", {"user_id": "{random}"}, 404, "User"),
    case("user to team", "POST", TEAM + "/members", {"user_id": "{random}"}, 404, "User"),
]
NEWCOMER = {"user_id": "{newcomer}"}
MEMBER = {"user_id": "{member}"}
INVALID_CHOICES = [
    case("org role", "POST", ORG + "/members", {**NEWCOMER, "role": "god"}, 422, "role"),
    case("org role case", "POST", ORG + "/members", {**NEWCOMER, "role": "Owner"}, 422, "role"),
    case("org role null", "POST", ORG + "/members", {**NEWCOMER, "role": None}, 422, "role"),
    case("study role for org", "PATCH", ORG + "/members/{member}", {"role": "viewer"}, 422, "role"),
    case(
        "org role for study",
        "POST",
        STUDY + "/collaborators",
        {**MEMBER, "role": "admin"},
        422,
        "role",
    ),
    case("study role", "PATCH", STUDY + "/collaborators/{editor}", {"role": "boss"}, 422, "role"),
    case(
        "new study status", "POST", ORG + "/studies", {"title": "t", "status": "x"}, 422, "status"
    ),
    case("study status", "PATCH", STUDY, {"status": "deleted"}, 422, "status"),
    case("resolved not a bool", "PATCH", COMMENT, {"resolved": "maybe"}, 422, "resolved"),
    case("user id not a uuid", "POST", TEAM + "/members", {"user_id": "bob"}, 422, "user_id"),
]


def extra(label: str, method: str, path: str, body: dict[str, Any], field: str) -> Any:
    """A valid body plus one field the API does not know (or must not take from a client)."""
    return case(label, method, path, {**body, field: "{random}"}, 422, field)


EXTRA_FIELDS = [
    extra("org id", "POST", "/api/organizations", {"name": "x"}, "id"),
    extra("org timestamp", "PATCH", ORG, {"name": "x"}, "created_at"),
    extra("platform admin", "POST", ORG + "/members", NEWCOMER, "is_platform_admin"),
    extra("team org", "POST", ORG + "/teams", {"name": "x"}, "organization_id"),
    extra("team count", "PATCH", TEAM, {"name": "x"}, "member_count"),
    extra("study org", "PATCH", STUDY, {"title": "x"}, "organization_id"),
    extra("study creator", "POST", ORG + "/studies", {"title": "x"}, "created_by"),
    extra("collaborator", "POST", STUDY + "/collaborators", MEMBER, "note"),
    extra("comment author", "POST", STUDY + "/comments", {"body": "x"}, "author_id"),
    extra("comment study", "PATCH", COMMENT, {"resolved": True}, "study_id"),
    extra("team member role", "POST", TEAM + "/members", MEMBER, "role"),
    extra("member email", "PATCH", ORG + "/members/{member}", {"role": "admin"}, "email"),
]
EMPTY_OR_OVERSIZED = [
    case("no org name", "POST", "/api/organizations", {}, 422, "name"),
    case("empty org name", "POST", "/api/organizations", {"name": ""}, 422, "name"),
    case("blank org name", "POST", "/api/organizations", {"name": "   "}, 422, "name"),
    case("number as name", "POST", "/api/organizations", {"name": 123}, 422, "name"),
    case("blank org rename", "PATCH", ORG, {"name": " \t\n "}, 422, "name"),
    case("blank team name", "POST", ORG + "/teams", {"name": "  "}, 422, "name"),
    case("empty team rename", "PATCH", TEAM, {"name": ""}, 422, "name"),
    case("blank study title", "POST", ORG + "/studies", {"title": "   "}, 422, "title"),
    case("blank study retitle", "PATCH", STUDY, {"title": " "}, 422, "title"),
    case("nothing to change in a study", "PATCH", STUDY, {}, 422, "body"),
    case("blank comment", "POST", STUDY + "/comments", {"body": "   "}, 422, "body"),
    case("empty comment edit", "PATCH", COMMENT, {"body": ""}, 422, "body"),
    case("nothing to change in a comment", "PATCH", COMMENT, {}, 422, "body"),
    case("long comment", "POST", STUDY + "/comments", {"body": LONG_COMMENT}, 422, "body"),
    case("long comment edit", "PATCH", COMMENT, {"body": LONG_COMMENT}, 422, "body"),
    case("long org name", "POST", "/api/organizations", {"name": LONG_NAME}, 422, "name"),
    case("long org rename", "PATCH", ORG, {"name": LONG_NAME}, 422, "name"),
    case("long team name", "POST", ORG + "/teams", {"name": LONG_NAME}, 422, "name"),
    case("long team rename", "PATCH", TEAM, {"name": LONG_NAME}, 422, "name"),
    case("long study title", "POST", ORG + "/studies", {"title": "t" * 301}, 422, "title"),
    case("NUL in a name", "POST", "/api/organizations", {"name": "a\x00b"}, 422, "name"),
    case("NUL in a title", "PATCH", STUDY, {"title": "a\x00"}, 422, "title"),
    case("NUL in a comment", "POST", STUDY + "/comments", {"body": "\x00"}, 422, "body"),
    case("lone surrogate", "POST", ORG + "/teams", b'{"name": "a\\ud800"}', 422, "name"),
    case("lone surrogate comment", "PATCH", COMMENT, b'{"body": "\\udfff"}', 422, "body"),
    case("not JSON", "POST", "/api/organizations", b'{"name": "x"', 422, "body"),
    case("a JSON array", "POST", ORG + "/teams", b"[1]", 422, "body"),
]
DUPLICATES = [
    case("org member twice", "POST", ORG + "/members", {"user_id": "{member}"}, 409, "already"),
    case("team name twice", "POST", ORG + "/teams", {"name": "{team_name}"}, 409, "already"),
    case("team name padded", "POST", ORG + "/teams", {"name": " {team_name} "}, 409, "already"),
    case("team renamed", "PATCH", "/api/teams/{team2}", {"name": "{team_name}"}, 409, "already"),
    case(
        "collaborator twice", "POST", STUDY + "/collaborators", {"user_id": "{editor}"}, 409, "al"
    ),
    case("team member twice", "POST", TEAM + "/members", {"user_id": "{member}"}, 409, "already"),
    case("team outsider", "POST", TEAM + "/members", {"user_id": "{outsider}"}, 422, "members"),
]
LIST = ORG + "/members"
A_TIME = "2024-01-01T00:00:00+00:00"


def bad_cursor(label: str, value: Any, path: str = LIST) -> Any:
    return case(label, "GET", f"{path}?cursor={_cursor(value)}", None, 400, "Invalid cursor")


PAGING = [
    case("limit 0", "GET", LIST + "?limit=0", None, 422, "limit"),
    case("limit 201", "GET", STUDY + "/comments?limit=201", None, 422, "limit"),
    case("limit -1", "GET", "/api/organizations?limit=-1", None, 422, "limit"),
    case("limit word", "GET", TEAM + "/members?limit=ten", None, 422, "limit"),
    case("cursor garbage", "GET", LIST + "?cursor=%21%21%21", None, 400, "Invalid cursor"),
    case("cursor raw uuid", "GET", LIST + "?cursor={member}", None, 400, "Invalid cursor"),
    case("cursor too long", "GET", LIST + "?cursor=" + "a" * 201, None, 422, "cursor"),
    bad_cursor("cursor not a pair", {"a": 1}),
    bad_cursor("cursor numbers", [1, 2]),
    bad_cursor("cursor three parts", [A_TIME, SOME_ID, SOME_ID]),
    bad_cursor("cursor int id", [A_TIME, 5]),
    bad_cursor("cursor list id", [A_TIME, [1]], STUDY + "/activity"),
    bad_cursor("cursor naive time", ["2024-01-01T00:00:00", SOME_ID]),
    bad_cursor("cursor year 1", ["0001-01-01T00:00:00+05:00", SOME_ID], STUDY + "/comments"),
    bad_cursor("cursor year 9999", ["9999-12-31T23:59:59-05:00", SOME_ID]),
]


async def _ids(build: Builder) -> tuple[Any, dict[str, str]]:
    s = await build.scene()
    team2 = await build.team(s.org_id, name="Second team")
    team_name = await build.db.fetchval("SELECT name FROM teams WHERE id = $1", s.team_id)
    elsewhere_study = await build.study(s.org_id, s.owner, "Another study")
    elsewhere = await build.comment(elsewhere_study, s.owner, "not in the scene's study")
    newcomer = await build.user("newcomer")
    names = {"org": s.org_id, "team": s.team_id, "study": s.study_id, "comment": s.comment_id}
    people = {"member": s.member, "editor": s.editor, "outsider": s.outsider, "newcomer": newcomer}
    ids = {k: str(v) for k, v in names.items()} | {k: str(p.id) for k, p in people.items()}
    ids |= {"team2": str(team2), "team_name": team_name, "elsewhere": str(elsewhere)}
    ids["random"] = str(uuid.uuid4())
    return s, ids


def _assert_detail(detail: Any, expect: str) -> None:
    if isinstance(detail, str):
        assert expect.lower() in detail.lower(), detail
        return
    assert isinstance(detail, list) and detail, detail
    assert all(isinstance(e.get("msg"), str) and e["msg"] for e in detail), detail
    fields = {str(part) for e in detail for part in e["loc"]}
    assert expect in fields, f"{expect!r} not among the error locations {fields}"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expect"),
    MALFORMED_IDS
    + UNKNOWN_IDS
    + INVALID_CHOICES
    + EXTRA_FIELDS
    + EMPTY_OR_OVERSIZED
    + DUPLICATES
    + PAGING,
)
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    build: Builder,
    db: asyncpg.Pool,
    method: str,
    path: str,
    body: Any,
    status: int,
    expect: str,
) -> None:
    scene, ids = await _ids(build)
    headers = dict(scene.owner.headers)
    request: dict[str, Any] = {}
    if isinstance(body, bytes):
        request["content"] = body
        headers["content-type"] = "application/json"
    elif body is not None:
        request["json"] = fill(body, ids)
    before = await snapshot(db, scene.org_id)

    response = await client.request(method, fill(path, ids), headers=headers, **request)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    _assert_detail(response.json()["detail"], fill(expect, ids))
    assert changed_parts(before, await snapshot(db, scene.org_id)) == []


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/organizations", "name", "n" * 200),
        (ORG + "/teams", "name", "n" * 200),
        (ORG + "/studies", "title", "t" * 300),
        (STUDY + "/comments", "body", "c" * 10_000),
        (STUDY + "/comments", "body", "  padded  "),
    ],
)
async def test_the_limits_themselves_are_accepted(
    client: httpx.AsyncClient, build: Builder, path: str, field: str, value: str
) -> None:
    """The other side of the boundaries above: the longest valid text is stored whole."""
    scene, ids = await _ids(build)
    response = await client.post(fill(path, ids), json={field: value}, headers=scene.owner.headers)
    assert response.status_code == 201, response.text
    assert response.json()[field] == value.strip()
