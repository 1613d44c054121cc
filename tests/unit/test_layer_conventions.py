"""The API's conventions that import-linter cannot see (ARCHITECTURE.md, "Layers and
conventions"): services never commit, and queries live in repositories. Read off the source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "services/api/src/collabcache_api"
# Where a transaction ends: the unit of work, and `db.unit_of_work` built on it.
COMMITTERS = {"unit_of_work.py", "db.py"}
ENDS_A_TRANSACTION = {"commit", "rollback"}
QUERIES = {"execute", "scalar", "scalars", "get", "stream", "stream_scalars", "merge", "refresh"}
QUERY_BUILDERS = {"select", "text", "func", "update", "delete", "insert"}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(API.rglob("*.py")):
        yield path.relative_to(API).as_posix(), ast.parse(path.read_text(), str(path))


def method_calls(tree: ast.Module) -> Iterator[tuple[int, str, str]]:
    """(line, receiver, method) of every `receiver.method(...)` call."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node.lineno, ast.unparse(node.func.value), node.func.attr


def layer_of(name: str) -> str | None:
    """Which layer a module is in: `endpoints` and `service` modules, and `caching`."""
    if name.startswith("caching/"):
        return "caching"
    stem = name.rsplit("/", 1)[-1].removesuffix(".py")
    return stem if "/" in name and stem in {"endpoints", "service"} else None


def test_only_the_unit_of_work_ends_a_transaction() -> None:
    found = [
        f"{name}:{line} {receiver}.{method}()"
        for name, tree in modules()
        if name not in COMMITTERS
        for line, receiver, method in method_calls(tree)
        if method in ENDS_A_TRANSACTION
    ]
    assert found == [], "commit through the unit of work (unit_of_work.py), not here"


def test_endpoints_services_and_caching_leave_queries_to_repositories() -> None:
    found = []
    for name, tree in modules():
        if layer_of(name) is None:
            continue
        found += [
            f"{name}:{line} {receiver}.{method}()"
            for line, receiver, method in method_calls(tree)
            if method in QUERIES and receiver.endswith("session")
        ]
        found += [
            f"{name}:{node.lineno} imports {alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] in {"sqlalchemy", "sqlmodel"}
            for alias in node.names
            if alias.name in QUERY_BUILDERS
        ]
    assert found == [], "move the query into the package's repository.py"


def test_the_checks_see_the_layers_they_police() -> None:
    """Guards the two tests above against passing vacuously (a moved source tree)."""
    layers = {layer_of(name) for name, _ in modules()}
    assert {"endpoints", "service", "caching"} <= layers
    calls = {m for name, tree in modules() if name in COMMITTERS for _, _, m in method_calls(tree)}
    assert calls >= ENDS_A_TRANSACTION
