"""Each shared fixture is defined once (tests/conftest.py, tests/integration/conftest.py): a
folder that needs a key prefix, a key space or a Redis client asks for the same one."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Overrides on purpose: cache/'s `redis` is a client of each backend in turn (standalone, cluster).
OVERRIDES = {("redis", "tests/integration/cache/conftest.py")}


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "fixture"


def _fixtures(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(_is_fixture(d) for d in node.decorator_list)
    ]


def test_no_fixture_is_defined_in_two_conftests() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for conftest in sorted((ROOT / "tests").rglob("conftest.py")):
        for name in _fixtures(conftest):
            where[name].append(str(conftest.relative_to(ROOT)))
    twice = {
        name: places
        for name, places in where.items()
        if len([p for p in places if (name, p) not in OVERRIDES]) > 1
    }
    assert not twice
    assert {"prefix", "keyspace", "redis", "settings_under", "app_keyspace"} <= set(where)
