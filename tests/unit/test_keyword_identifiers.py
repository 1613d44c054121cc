"""Two identifiers never travel by position: a function of the API or of `shared` that takes
two UUIDs or more takes them by keyword, so `(org_id, user_id)` and `(user_id, org_id)` cannot
be swapped unnoticed. Route handlers are left out: FastAPI always passes their arguments by
name."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "services/api/src", ROOT / "shared/src")
UUID_TYPES = {"uuid.UUID", "UUID", "uuid.UUID | None", "UUID | None"}


def _positional_identifiers(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    arguments = function.args.posonlyargs + function.args.args
    return [a.arg for a in arguments if a.annotation and ast.unparse(a.annotation) in UUID_TYPES]


def _offenders(path: Path) -> list[str]:
    """`name(first, second...)` of each function of the module with two identifiers or more
    it takes by position."""
    tree = ast.parse(path.read_text())
    return [
        f"{node.name}{tuple(names)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and len(names := _positional_identifiers(node)) >= 2
    ]


def _modules() -> list[Path]:
    return [
        path
        for source in SOURCES
        for path in sorted(source.rglob("*.py"))
        if "migrations" not in path.parts and path.name != "endpoints.py"
    ]


def test_no_function_takes_two_identifiers_by_position() -> None:
    assert len(_modules()) > 50  # the sources themselves, not an empty folder
    found = {str(path.relative_to(ROOT)): _offenders(path) for path in _modules()}
    assert {where: names for where, names in found.items() if names} == {}


def test_the_check_sees_a_swappable_pair(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import uuid\n"
        "async def rule(session, org_id: uuid.UUID, user_id: uuid.UUID): ...\n"
        "async def fine(session, *, org_id: uuid.UUID, user_id: uuid.UUID): ...\n"
    )
    assert _offenders(module) == ["rule('org_id', 'user_id')"]
