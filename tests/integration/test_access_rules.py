"""The access rules the matrix cannot show in one request: refused tokens on every endpoint,
what lists contain, the rights a study reports, that hiding does not leak existence, and the
owner rules across several steps."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from collabcache_api.security import ALGORITHM, issue_token
from collabcache_shared.settings import ApiSettings
from tests.integration.access_world import World, build_world, fill
from tests.integration.builders import Builder
from tests.integration.state import changed_parts, snapshot
from tests.integration.test_access_matrix import TABLE

TokenMaker = Callable[[uuid.UUID, ApiSettings], str]


def _claims(user_id: uuid.UUID, settings: ApiSettings, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(claims: dict[str, Any], settings: ApiSettings, algorithm: str = ALGORITHM) -> str:
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=algorithm)


# Each makes an `Authorization` header value for the org owner, refused for one reason only.
BAD_CREDENTIALS: dict[str, TokenMaker] = {
    "not a JWT": lambda uid, s: "Bearer not-a-jwt",
    "empty bearer": lambda uid, s: "Bearer ",
    "basic scheme": lambda uid, s: "Basic b3duZXI6cGFzcw==",
    "no scheme": lambda uid, s: issue_token(uid, s),
    "expired": lambda uid, s: "Bearer " + issue_token(uid, s, ttl=timedelta(seconds=-5)),
    "wrong secret": lambda uid, s: (
        "Bearer "
        + issue_token(uid, s.model_copy(update={"jwt_secret": s.jwt_secret.__class__("x" * 40)}))
    ),
    "wrong audience": lambda uid, s: "Bearer " + _signed(_claims(uid, s, aud="elsewhere"), s),
    "wrong issuer": lambda uid, s: "Bearer " + _signed(_claims(uid, s, iss="elsewhere"), s),
    "no exp": lambda uid, s: "Bearer " + _signed(_claims(uid, s, exp=None), s),
    "no sub": lambda uid, s: "Bearer " + _signed(_claims(uid, s, sub=None), s),
    "sub not a uuid": lambda uid, s: "Bearer " + _signed(_claims(uid, s, sub="owner"), s),
    "alg none": lambda uid, s: "Bearer " + jwt.encode(_claims(uid, s), key=None, algorithm="none"),  # type: ignore[arg-type]
    "other algorithm": lambda uid, s: "Bearer " + _signed(_claims(uid, s), s, "HS512"),
    "tampered": lambda uid, s: "Bearer " + issue_token(uid, s)[:-3] + "AAA",
}
OPERATIONS = sorted({(row.method, row.path, str(row.body)): row for row in TABLE}.values(), key=str)


# HS512 signed with the (HS256-sized) secret: PyJWT warns, the test means it.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
@pytest.mark.parametrize("row", OPERATIONS, ids=lambda r: r.label)
async def test_refused_credentials_get_401_everywhere(
    client: httpx.AsyncClient,
    build: Builder,
    db: asyncpg.Pool,
    api_settings: ApiSettings,
    row: Any,
    kind: str,
) -> None:
    world = await build_world(build)
    ids = world.ids("owner")
    before = await snapshot(db, world.scene.org_id)
    authorization = BAD_CREDENTIALS[kind](world.scene.owner.id, api_settings)
    response = await client.request(
        row.method,
        fill(row.path, ids),
        json=fill(row.body, ids) if row.body is not None else None,
        headers={"Authorization": authorization},
    )
    assert response.status_code == 401, response.text
    assert isinstance(response.json()["detail"], str)
    assert response.headers["www-authenticate"] == "Bearer"
    assert changed_parts(before, await snapshot(db, world.scene.org_id)) == []


async def test_the_scheme_is_case_insensitive(client: httpx.AsyncClient, build: Builder) -> None:
    """The control for the cases above: the owner's own token, scheme in lower case, works."""
    s = await build.scene()
    token = s.owner.token
    response = await client.get("/api/me", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(s.owner.id)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/me", None),
        ("POST", "/api/organizations", {"name": "Ghost org"}),
        ("GET", "/api/admin/system-stats", None),
    ],
)
async def test_a_valid_token_of_an_unknown_user_is_401(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    api_settings: ApiSettings,
    method: str,
    path: str,
    body: Any,
) -> None:
    ghost = issue_token(uuid.uuid4(), api_settings)
    orgs_before = await db.fetchval("SELECT count(*) FROM organizations")
    response = await client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {ghost}"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == "Unknown user"
    assert await db.fetchval("SELECT count(*) FROM organizations") == orgs_before


async def _ids_of(client: httpx.AsyncClient, world: World, caller: str, path: str) -> set[str]:
    response = await client.get(path, headers=world.headers(caller))
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_lists_show_only_what_the_caller_belongs_to(
    client: httpx.AsyncClient, build: Builder
) -> None:
    world = await build_world(build)
    s = world.scene
    org, other = str(s.org_id), str(world.other_org_id)
    for caller in ("owner", "admin", "member", "editor", "viewer"):
        assert await _ids_of(client, world, caller, "/api/organizations") == {org}
    assert await _ids_of(client, world, "outsider", "/api/organizations") == {other}
    assert await _ids_of(client, world, "platform_admin", "/api/organizations") == set()
    studies = "/api/collaboration/studies"
    for caller in ("owner", "editor", "viewer"):
        assert await _ids_of(client, world, caller, studies) == {str(s.study_id)}
    # The org's admin may open the study but is no collaborator: it is not in "my studies".
    for caller in ("admin", "member", "platform_admin"):
        assert await _ids_of(client, world, caller, studies) == set()
    assert str(s.study_id) not in await _ids_of(client, world, "outsider", studies)


RIGHTS = {
    # caller: (study_role, organization_role, view, comment, edit, manage, moderate)
    "owner": ("owner", "owner", True, True, True, True, True),
    "admin": (None, "admin", True, True, True, True, True),
    "editor": ("editor", "member", True, True, True, False, False),
    "viewer": ("viewer", "member", True, False, False, False, False),
}


@pytest.mark.parametrize("caller", RIGHTS)
async def test_permissions_report_the_callers_rights(
    client: httpx.AsyncClient, build: Builder, caller: str
) -> None:
    world = await build_world(build)
    path = f"/api/collaboration/studies/{world.scene.study_id}/permissions"
    response = await client.get(path, headers=world.headers(caller))
    assert response.status_code == 200, response.text
    p = response.json()
    reported = tuple(
        p[right]
        for right in (
            "study_role",
            "organization_role",
            "can_view",
            "can_comment",
            "can_edit",
            "can_manage_collaborators",
            "can_moderate_comments",
        )
    )
    assert reported == RIGHTS[caller]
    assert p["user_id"] == str(world.caller(caller).id)  # type: ignore[union-attr]


ORG_HIDDEN = [
    ("GET", "/api/organizations/{id}/members", None),
    ("PATCH", "/api/organizations/{id}", {"name": "x"}),
    ("GET", "/api/teams/{id}/analytics", None),
    ("DELETE", "/api/teams/{id}", None),
]
STUDY_HIDDEN = [
    ("GET", "/api/collaboration/studies/{id}/comments", None),
    ("PATCH", "/api/collaboration/studies/{id}", {"title": "x"}),
]


@pytest.mark.parametrize(
    ("caller", "method", "path", "body"),
    [(c, *op) for c in ("outsider", "platform_admin") for op in ORG_HIDDEN + STUDY_HIDDEN]
    # The plain member sees the organization and its teams, not a study they are not on.
    + [("member", *op) for op in STUDY_HIDDEN],
)
async def test_hidden_and_missing_answer_alike(
    client: httpx.AsyncClient, build: Builder, caller: str, method: str, path: str, body: Any
) -> None:
    """What the caller may not see and what does not exist get the same answer."""
    world = await build_world(build)
    s = world.scene
    real = {"organizations": s.org_id, "teams": s.team_id, "studies": s.study_id}
    existing = next(v for k, v in real.items() if f"/{k}/" in path)
    headers = world.headers(caller)
    hidden = await client.request(method, path.format(id=existing), json=body, headers=headers)
    missing = await client.request(method, path.format(id=uuid.uuid4()), json=body, headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
