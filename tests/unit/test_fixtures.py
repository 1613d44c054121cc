"""Each shared fixture is defined once (tests/conftest.py, tests/integration/conftest.py): a
folder that needs a key prefix, a key space or a Redis client asks for the same one."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SHARED = {"prefix", "keyspace", "redis", "settings_under", "cache", "app_keyspace", "scene", "sql"}
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


def _definitions(pattern: str) -> dict[str, list[str]]:
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(TESTS.rglob(pattern)):
        for name in _fixtures(path):
            place = str(path.relative_to(ROOT))
            if (name, place) not in OVERRIDES:
                where[name].append(place)
    return where


def test_no_fixture_is_defined_in_two_conftests() -> None:
    twice = {
        name: places for name, places in _definitions("conftest.py").items() if len(places) > 1
    }
    assert not twice


def test_the_shared_fixtures_are_defined_once_in_the_whole_suite() -> None:
    where = _definitions("*.py")
    assert set(where) >= SHARED
    assert {name: where[name] for name in SHARED if len(where[name]) > 1} == {}
