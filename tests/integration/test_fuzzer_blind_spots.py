"""What the schemathesis run cannot generate or would rarely hit, asked for explicitly: each gets
the documented 4xx with a JSON `detail`, never a 5xx; and the schema says what is validated.

(`test_bad_input.py` covers the common bad inputs: NUL characters, lone surrogates, lengths,
limits, cursors; these are the rest.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.builders import Builder

ORG = "/api/organizations/{org}"
STUDY = "/api/collaboration/studies/{study}"
COMMENT = STUDY + "/comments/{comment}"
DEEP_JSON = b"[" * 60_000 + b"]" * 60_000  # deep, and within the body limit (else 413)


def case(label: str, method: str, path: str, body: Any, status: int) -> Any:
    return pytest.param(method, path, body, status, id=label)


BLIND_SPOTS = [
    # Bodies no JSON generator makes.
    case("body not UTF-8", "POST", "/api/organizations", b'{"name": "\xff\xfe"}', 422),
    case("body nested 60k deep", "POST", ORG + "/teams", DEEP_JSON, 422),
    case("body nested past the body limit", "POST", ORG + "/teams", DEEP_JSON * 2, 413),
    case("NUL in a key", "POST", "/api/organizations", {"na\x00me": "x"}, 422),
    # Query and path values out of any range a schema generator keeps to.
    case("limit of 31 digits", "GET", ORG + "/members?limit=" + "9" * 31, None, 422),
    case("limit NUL", "GET", "/api/organizations?limit=%00", None, 422),
    case("limit float", "GET", "/api/organizations?limit=1e3", None, 422),
    case("cursor NUL", "GET", ORG + "/members?cursor=%00", None, 400),
    case("org id NUL", "GET", "/api/organizations/%00/members", None, 422),
    case(
        "study id 10k long", "GET", f"/api/collaboration/studies/{'a' * 10_000}/comments", None, 422
    ),
    # What the schema documents and the API checks alike.
    case("padding beyond maxLength", "POST", "/api/organizations", {"name": "n" + " " * 200}, 422),
    case("only a BOM", "POST", ORG + "/teams", {"name": "\ufeff"}, 422),
    case("only separators", "POST", ORG + "/studies", {"title": "\x1c\x1f\x85"}, 422),
    case("null title", "PATCH", STUDY, {"title": None, "status": "active"}, 422),
    case("null resolved", "PATCH", COMMENT, {"body": "x", "resolved": None}, 422),
    case("resolved as 0", "PATCH", COMMENT, {"resolved": 0}, 422),
    case("resolved as a word", "PATCH", COMMENT, {"resolved": "true"}, 422),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), BLIND_SPOTS)
async def test_blind_spots_get_a_clear_4xx(
    client: httpx.AsyncClient, build: Builder, method: str, path: str, body: Any, status: int
) -> None:
    s = await build.scene()
    ids = {"org": s.org_id, "study": s.study_id, "comment": s.comment_id}
    request: dict[str, Any] = {"headers": {**s.owner.headers, "content-type": "application/json"}}
    if isinstance(body, bytes):
        request["content"] = body
    elif body is not None:
        request["json"] = body

    response = await client.request(method, path.format(**ids), **request)

    assert response.status_code == status, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/organizations", "GET, POST"),
        ("/api/organizations/{org}", "PATCH"),
        ("/api/organizations/{org}/members/{org}", "DELETE, PATCH"),
        ("/api/teams/{org}", "DELETE, PATCH"),
        (COMMENT, "DELETE, PATCH"),
    ],
)
async def test_a_405_lists_every_method_of_the_path(
    client: httpx.AsyncClient, build: Builder, path: str, allowed: str
) -> None:
    s = await build.scene()
    ids = {"org": s.org_id, "study": s.study_id, "comment": s.comment_id}
    response = await client.request("PUT", path.format(**ids), headers=s.owner.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"detail": "Method Not Allowed"}


async def test_padding_within_the_limit_is_trimmed(
    client: httpx.AsyncClient, build: Builder
) -> None:
    """The other side of "padding beyond maxLength": lengths count the text as sent."""
    s = await build.scene()
    name = " " * 100 + "n" * 100
    response = await client.post("/api/organizations", json={"name": name}, headers=s.owner.headers)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "n" * 100
