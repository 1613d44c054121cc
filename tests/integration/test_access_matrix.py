"""Who may do what: every endpoint of the API, asked by every kind of caller.

One row per (endpoint, situation); one column per caller. Every refused write (and every read)
must leave the database exactly as it was; every accepted write must change it. Anonymous
callers always get 401; what a caller may not see answers 404, never 403.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tests.integration.access_world import ALL_CALLERS, CALLERS, build_world, call
from tests.integration.builders import Builder
from tests.integration.state import changed_parts, snapshot

ORG = "/api/organizations/{org}"
TEAM = "/api/teams/{team}"
STUDY = "/api/collaboration/studies/{study}"


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    # Expected status per caller, in the order of CALLERS.
    statuses: tuple[int, int, int, int, int, int, int]
    body: dict[str, Any] | None = None
    situation: str = ""
    # False for an accepted write that asks for what already is: it must change nothing.
    changes: bool = True

    def expected(self, caller: str) -> int:
        return 401 if caller == "anonymous" else self.statuses[CALLERS.index(caller)]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}" + (f" ({self.situation})" if self.situation else "")


ALL_200 = (200, 200, 200, 200, 200, 200, 200)
ORG_READ = (404, 200, 200, 200, 200, 200, 404)
STUDY_READ = (404, 404, 200, 200, 200, 200, 404)
# Organization management: owner/admin only; members are refused, outsiders see nothing.
ORG_MANAGE_200 = (404, 403, 403, 403, 200, 200, 404)
ORG_MANAGE_201 = (404, 403, 403, 403, 201, 201, 404)
ORG_MANAGE_204 = (404, 403, 403, 403, 204, 204, 404)
ONLY_OWNER_200 = (404, 403, 403, 403, 403, 200, 404)
ONLY_OWNER_201 = (404, 403, 403, 403, 403, 201, 404)
LAST_OWNER = (404, 403, 403, 403, 403, 409, 404)
# Study management: study owner or org owner/admin; editors/viewers refused, others see nothing.
STUDY_MANAGE_200 = (404, 404, 403, 403, 200, 200, 404)
STUDY_MANAGE_201 = (404, 404, 403, 403, 201, 201, 404)
STUDY_MANAGE_204 = (404, 404, 403, 403, 204, 204, 404)

#   columns:   outsider, member, editor, viewer, admin, owner, platform_admin
TABLE: tuple[Row, ...] = (
    Row("GET", "/api/me", ALL_200),
    Row("GET", "/api/admin/system-stats", (403, 403, 403, 403, 403, 403, 200)),
    Row("GET", "/api/admin/cache-metrics", (403, 403, 403, 403, 403, 403, 200)),
    # Organizations and their members.
    Row("GET", "/api/organizations", ALL_200),
    Row("POST", "/api/organizations", (201,) * 7, {"name": "{unique}"}),
    Row("PATCH", ORG, ORG_MANAGE_200, {"name": "Renamed"}),
    Row("GET", ORG + "/members", ORG_READ),
    Row("POST", ORG + "/members", ORG_MANAGE_201, {"user_id": "{newcomer}"}, "as member"),
    Row(
        "POST",
        ORG + "/members",
        ORG_MANAGE_201,
        {"user_id": "{newcomer}", "role": "admin"},
        "as admin",
    ),
    Row(
        "POST",
        ORG + "/members",
        ONLY_OWNER_201,
        {"user_id": "{newcomer}", "role": "owner"},
        "as owner",
    ),
    Row("PATCH", ORG + "/members/{bystander}", ORG_MANAGE_200, {"role": "admin"}, "promote"),
    Row("PATCH", ORG + "/members/{admin}", ONLY_OWNER_200, {"role": "owner"}, "grant owner"),
    Row("PATCH", ORG + "/members/{self}", ONLY_OWNER_200, {"role": "owner"}, "self to owner"),
    Row("PATCH", ORG + "/members/{owner}", LAST_OWNER, {"role": "admin"}, "demote last owner"),
    Row("DELETE", ORG + "/members/{bystander}", ORG_MANAGE_204, situation="remove another"),
    Row("DELETE", ORG + "/members/{owner}", LAST_OWNER, situation="remove the last owner"),
    Row("DELETE", ORG + "/members/{self}", (404, 204, 204, 204, 204, 409, 404), situation="leave"),
    Row("GET", ORG + "/analytics", ORG_READ),
    # Teams.
    Row("GET", ORG + "/teams", ORG_READ),
    Row("POST", ORG + "/teams", ORG_MANAGE_201, {"name": "New team"}),
    Row("PATCH", TEAM, ORG_MANAGE_200, {"name": "Renamed team"}),
    Row("DELETE", TEAM, ORG_MANAGE_204),
    Row("GET", TEAM + "/members", ORG_READ),
    Row("POST", TEAM + "/members", ORG_MANAGE_201, {"user_id": "{viewer}"}),
    Row("DELETE", TEAM + "/members/{bystander}", ORG_MANAGE_204, situation="remove another"),
    # The member and the editor are in the team; the others are not, so there is none to leave.
    Row("DELETE", TEAM + "/members/{self}", (404, 204, 204, 404, 404, 404, 404), situation="leave"),
    Row("GET", TEAM + "/analytics", ORG_READ),
    # Studies and their collaborators.
    Row("GET", "/api/collaboration/studies", ALL_200),
    Row("POST", ORG + "/studies", (404, 201, 201, 201, 201, 201, 404), {"title": "New study"}),
    Row("PATCH", STUDY, (404, 404, 200, 403, 200, 200, 404), {"title": "Renamed study"}),
    Row("PATCH", STUDY, (404, 404, 200, 403, 200, 200, 404), {"status": "archived"}, "status"),
    Row("GET", STUDY + "/collaborators", STUDY_READ),
    Row("POST", STUDY + "/collaborators", STUDY_MANAGE_201, {"user_id": "{member}"}),
    Row(
        "PATCH",
        STUDY + "/collaborators/{bystander}",
        STUDY_MANAGE_200,
        {"role": "editor"},
        "promote",
    ),
    Row(
        "PATCH",
        STUDY + "/collaborators/{owner}",
        (404, 404, 403, 403, 409, 409, 404),
        {"role": "editor"},
        "demote last owner",
    ),
    # The org admin may see the study but is no collaborator of it: nobody to change.
    Row(
        "PATCH",
        STUDY + "/collaborators/{self}",
        (404, 404, 403, 403, 404, 200, 404),
        {"role": "owner"},
        "self to owner",
        changes=False,  # the owner is an owner already
    ),
    Row(
        "DELETE",
        STUDY + "/collaborators/{bystander}",
        STUDY_MANAGE_204,
        situation="remove another",
    ),
    Row(
        "DELETE",
        STUDY + "/collaborators/{self}",
        (404, 404, 204, 204, 404, 409, 404),
        situation="leave",
    ),
    Row("GET", STUDY + "/activity", STUDY_READ),
    Row("GET", STUDY + "/permissions", STUDY_READ),
    # Comments: the scene's comment is the editor's; {owner_comment} is the study owner's.
    Row("GET", STUDY + "/comments", STUDY_READ),
    Row("POST", STUDY + "/comments", (404, 404, 201, 403, 201, 201, 404), {"body": "hello"}),
    Row(
        "PATCH",
        STUDY + "/comments/{comment}",
        (404, 404, 200, 403, 403, 403, 404),
        {"body": "edited"},
        "edit the editor's",
    ),
    Row(
        "PATCH",
        STUDY + "/comments/{owner_comment}",
        (404, 404, 403, 403, 403, 200, 404),
        {"body": "edited"},
        "edit the owner's",
    ),
    Row(
        "PATCH",
        STUDY + "/comments/{comment}",
        (404, 404, 200, 403, 200, 200, 404),
        {"resolved": True},
        "resolve the editor's",
    ),
    Row(
        "PATCH",
        STUDY + "/comments/{owner_comment}",
        (404, 404, 200, 403, 200, 200, 404),
        {"resolved": True},
        "resolve the owner's",
    ),
    Row(
        "DELETE",
        STUDY + "/comments/{comment}",
        (404, 404, 204, 403, 204, 204, 404),
        situation="delete the editor's",
    ),
    Row(
        "DELETE",
        STUDY + "/comments/{owner_comment}",
        STUDY_MANAGE_204,
        situation="delete the owner's",
    ),
)

CASES = [
    pytest.param(row, caller, id=f"{row.label} as {caller}")
    for row in TABLE
    for caller in ALL_CALLERS
]


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_the_table_covers_every_operation_of_the_openapi(app: FastAPI) -> None:
    documented = {
        (method.upper(), _shape(path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    tabled = {(row.method, _shape(row.path)) for row in TABLE}
    assert documented - tabled == set(), "operations missing from the access table"
    assert tabled - documented == set(), "the table names operations the API does not have"


@pytest.mark.parametrize(("row", "caller"), CASES)
async def test_access(
    client: httpx.AsyncClient, build: Builder, db: asyncpg.Pool, row: Row, caller: str
) -> None:
    world = await build_world(build)
    before = await snapshot(db, world.scene.org_id)
    other_before = await snapshot(db, world.other_org_id)

    response = await call(client, world, caller, row.method, row.path, row.body)

    assert response.status_code == row.expected(caller), response.text
    changed = changed_parts(before, await snapshot(db, world.scene.org_id))
    if response.status_code >= 400:
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail, response.text
        assert changed == [], f"a refused {row.method} changed {changed}"
    elif row.method == "GET":
        assert changed == [], f"a read changed {changed}"
    elif not row.changes:
        assert changed == [], f"a write of what already is changed {changed}"
    else:
        assert changed != [], "an accepted write changed nothing"
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    # Nothing any caller does in this organization touches another one.
    other_changed = changed_parts(other_before, await snapshot(db, world.other_org_id))
    assert [p for p in other_changed if p != "counts"] == []


READ_CASES = [
    pytest.param(row, caller, id=f"{row.label} as {caller}")
    for row in TABLE
    if row.method == "GET"
    for caller in ALL_CALLERS
]


@pytest.mark.parametrize(("row", "caller"), READ_CASES)
async def test_reads_with_the_cache_off(
    uncached_client: httpx.AsyncClient, build: Builder, row: Row, caller: str
) -> None:
    """The same answers from the database alone: a read's access check is the caller's
    standing, loaded from the database when there is no cache to hold it."""
    world = await build_world(build)
    response = await call(uncached_client, world, caller, row.method, row.path, row.body)
    assert response.status_code == row.expected(caller), response.text
    assert response.headers.get("x-cache") in (None, "BYPASS")
