"""The frontend's side (README, "Calling the API from a frontend"): operation ids a person would
write, and the committed TypeScript client in step with the API and type-correct.

The generator and the compiler come from npm (`clients/typescript/package-lock.json`); the
test installs them on first use (`npm ci`, a few seconds) and skips only where npm is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from collabcache_api import openapi

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "typescript"
OPERATION_ID = re.compile(r"^[a-z]+-[a-z][a-z_]*$")
DEFAULT_STYLE = re.compile(r"_(get|post|patch|put|delete)$|__|_api_")
NPM = shutil.which("npm")
needs_npm = pytest.mark.skipif(NPM is None, reason="npm is not installed (apt-get install npm)")


def operations() -> list[dict[str, object]]:
    document = json.loads(openapi.render())
    return [op for ops in document["paths"].values() for op in ops.values()]


def test_operation_ids_are_tag_dash_handler_unique_and_not_fastapi_defaults() -> None:
    ids = [str(op["operationId"]) for op in operations()]
    assert len(ids) == len(set(ids)) > 20
    assert [i for i in ids if not OPERATION_ID.match(i) or DEFAULT_STYLE.search(i)] == []
    assert "organizations-list_members" in ids


def test_every_operation_has_a_summary_and_its_error_responses() -> None:
    for op in operations():
        assert op.get("summary"), op["operationId"]
        responses = op["responses"]
        assert isinstance(responses, dict)
        assert {"401", "503"} <= set(responses), op["operationId"]


def test_the_committed_openapi_document_is_the_apis() -> None:
    committed = (CLIENT / "openapi.json").read_text(encoding="utf-8")
    assert openapi.render() == committed, "run `make client` and commit the result"


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    assert NPM is not None
    return subprocess.run(
        [NPM, *args], cwd=CLIENT, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def installed() -> None:
    if not (CLIENT / "node_modules" / ".package-lock.json").exists():
        done = _npm("ci", "--no-audit", "--no-fund")
        assert done.returncode == 0, done.stderr[-2000:]


@needs_npm
def test_the_committed_client_is_what_the_generator_makes(installed: None, tmp_path: Path) -> None:
    fresh = tmp_path / "schema.d.ts"
    done = _npm("exec", "--", "openapi-typescript", "openapi.json", "-o", str(fresh))
    assert done.returncode == 0, done.stderr[-2000:]
    committed = (CLIENT / "src" / "schema.d.ts").read_text(encoding="utf-8")
    assert fresh.read_text(encoding="utf-8") == committed, "run `make client` and commit"


@needs_npm
def test_the_client_and_its_example_type_check(installed: None) -> None:
    done = _npm("run", "check")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
