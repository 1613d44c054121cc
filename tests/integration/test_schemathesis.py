"""Property-based run of schemathesis over the API's own OpenAPI schema.

Every generated request (valid and invalid bodies, paths, queries, headers; callers of every
role of a real scene, on its real ids and on random ones) must get a status code the schema
documents, with a body that matches the schema, and never a 5xx. All of schemathesis's checks
run; the run is derandomized (the same requests every time) and takes about 25 s.

Why a real server (uvicorn in a thread, requests over HTTP) and not the in-process ASGI
transport: that transport drives the app from an event loop of its own in a portal thread and
keeps the lifespan it started there until the process exits, while the session fixtures (the
asyncpg pool of `db`, the `app` fixture) live on pytest-asyncio's session loop, and asyncpg
connections cannot cross loops. uvicorn in a thread owns one loop for the app, its lifespan and
its engine; the fixture starts and stops it (so the engine is disposed before the test database
is dropped), and the requests go through the real HTTP stack (h11 parsing, headers) as deployed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
import schemathesis
import uvicorn
from schemathesis.config import SchemathesisConfig

from collabcache_api.main import create_app
from collabcache_shared.settings import ApiSettings, RedisSettings
from tests.integration.builders import Builder, Scene

# Fuzzing examples per operation: with the coverage phase (boundaries, missing and invalid
# values, deterministic) the whole run stays well under a minute.
MAX_EXAMPLES = 50
# What a schema-valid request may get (5xx fails `not_a_server_error` whatever this says).
ACCEPTED_FOR_VALID_DATA = ["2xx", "401", "403", "404", "409"]


def _accept_also(*statuses: str) -> dict[str, Any]:
    """Statuses that a schema-valid request may get besides the default ones (for reasons the
    schema cannot express); they must still be documented for the operation."""
    expected = [*ACCEPTED_FOR_VALID_DATA, *statuses]
    return {"positive_data_acceptance": {"expected-statuses": expected}}


FUZZ_CONFIG: dict[str, Any] = {
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "request-timeout": 10,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "warnings": False,
    "operations": [
        # A cursor is opaque: any string to the schema, but only one this API issued decodes,
        # so a schema-valid cursor may get the documented 400.
        {"include-method": "GET", "checks": _accept_also("400")},
        # Adding someone from outside the team's organization breaks a rule on the data, not
        # on the schema: the documented 422 with a message.
        {
            "include-method": "POST",
            "include-path": "/api/teams/{team_id}/members",
            "checks": _accept_also("422"),
        },
    ],
}


# Collected at import: schemathesis's lazy `from_fixture` loader fails on pytest 9.2 (it sets
# `Function._nodeid`, gone in 9.2), so the schema is the document the app serves at
# /openapi.json, built without a server (`test_the_served_schema_is_the_tested_one` checks).
API_DOCUMENT = create_app(ApiSettings(environment="test"), RedisSettings()).openapi()
schema = schemathesis.openapi.from_dict(
    API_DOCUMENT, config=SchemathesisConfig.from_dict(FUZZ_CONFIG)
)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live_api(api_settings: ApiSettings, redis_settings: RedisSettings) -> Iterator[str]:
    """The API served by uvicorn in a thread on a free port; yields its base URL."""
    sock = _free_socket()
    config = uvicorn.Config(
        create_app(api_settings, redis_settings), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


# Cases are generated before fixtures exist (the coverage phase's even at collection), so they
# name the caller by role, and `Cast.prepare` puts in the scene's real token and ids. The owner
# twice: most requests should pass the access rules and reach the writes.
CALLERS = ("owner", "owner", "admin", "member", "editor", "viewer", "outsider", "platform_admin")
CALLER_PLACEHOLDER = "Bearer cast:any"


@schema.auth()
class SceneCaller:
    """Positive cases get the placeholder; cases that negate auth (none, a bad one) keep theirs."""

    def get(self, case: Any, context: Any) -> str:
        return CALLER_PLACEHOLDER

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@schema.hook
def flatmap_case(context: Any, case: Any) -> Any:
    """Fuzzing draws the caller's role (so that it shrinks); coverage cases get one by hash."""
    if not case.headers or case.headers.get("Authorization") != CALLER_PLACEHOLDER:
        return st.just(case)

    def called_by(role: str) -> Any:
        case.headers = {**case.headers, "Authorization": f"Bearer cast:{role}"}
        return case

    return st.sampled_from(CALLERS).map(called_by)


def _is_uuid(value: Any) -> bool:
    """A UUID in its canonical form: other forms the API may parse stay as generated."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


class Cast:
    """A scene's callers and ids. What the case did not draw itself is chosen by a hash of what
    it did, so that one case always makes the same request (hypothesis replays and shrinks)."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        user_ids = [str(getattr(scene, role).id) for role in CALLERS[1:]]
        self.ids = {
            "org_id": [str(scene.org_id)],
            "team_id": [str(scene.team_id)],
            "study_id": [str(scene.study_id)],
            "comment_id": [str(scene.comment_id)],
            "member_id": user_ids,
            "user_id": user_ids,
        }

    def prepare(self, case: Any) -> None:
        salt = _fingerprint(case)
        auth = (case.headers or {}).get("Authorization", "")
        if auth.startswith("Bearer cast:"):
            role = auth.removeprefix("Bearer cast:")
            role = _pick(list(CALLERS), salt + "caller") if role == "any" else role
            case.headers["Authorization"] = f"Bearer {getattr(self.scene, role).token}"
        case.path_parameters = self._with_real_ids(case.path_parameters, salt)
        if isinstance(case.body, dict):
            case.body = self._with_real_ids(case.body, salt)

    def _with_real_ids(self, values: dict[str, Any] | None, salt: str) -> dict[str, Any] | None:
        """A valid generated id becomes a real one 3 times in 4; invalid ones stay (negative)."""
        if not values:
            return values
        replaced = dict(values)
        for key, value in values.items():
            if key in self.ids and _is_uuid(value):
                choices = [*self.ids[key] * 3, value]
                replaced[key] = _pick(choices, f"{salt}{key}")
        return replaced


def _fingerprint(case: Any) -> str:
    """What was generated, as text that is the same in every run (no object addresses)."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    generated = [case.operation.label, case.path_parameters, case.query, headers, case.body]
    return json.dumps(generated, sort_keys=True, default=lambda value: type(value).__name__)


def _pick(options: list[Any], salt: str) -> Any:
    return options[zlib.crc32(salt.encode()) % len(options)]


DELETIONS = [f"DELETE {path}" for path, ops in API_DOCUMENT["paths"].items() if "delete" in ops]


@pytest.fixture(scope="module")
async def casts(db: Any, api_settings: ApiSettings) -> dict[str, Cast]:
    """One scene for reads and updates, and one of its own for each DELETE operation, so that
    a deletion (of the team, say) leaves the rows the other operations work on."""
    builder = Builder(db, api_settings)
    casts = {"shared": Cast(await builder.scene())}
    for label in DELETIONS:
        casts[label] = Cast(await builder.scene())
    return casts


@schema.parametrize()
def test_api_answers_as_its_schema_says(case: Any, live_api: str, casts: dict[str, Cast]) -> None:
    casts.get(case.operation.label, casts["shared"]).prepare(case)
    case.call_and_validate(base_url=live_api)


def test_the_served_schema_is_the_tested_one(live_api: str) -> None:
    served = httpx.get(f"{live_api}/openapi.json", timeout=10).json()
    assert served == API_DOCUMENT
