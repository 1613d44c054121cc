"""The Makefile a newcomer reads first: `make help` lists every target the README names, and
`make up` says what is missing (the Compose plugin, a running engine) before compose runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FAKE_DOCKER = """#!/bin/sh
# compose: {compose}; engine: {engine}
if [ "$1" = compose ] && [ "$2" = version ]; then exit {compose}; fi
if [ "$1" = info ]; then exit {engine}; fi
echo "unexpected: docker $*" >&2; exit 99
"""


def _make(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), *args], env=env, capture_output=True, text=True, timeout=60
    )


def _rules() -> dict[str, str]:
    """Every rule of the Makefile: its target and the rest of its line."""
    text = (ROOT / "Makefile").read_text()
    return dict(re.findall(r"^([^\s#:=]+):(?!=)(.*)$", text, flags=re.MULTILINE))


def _phony() -> set[str]:
    return set(_rules()[".PHONY"].split())


def _listed() -> set[str]:
    """The targets `make help` lists (a line each)."""
    return set(re.findall(r"^  make (\S+)", _make("help").stdout, flags=re.MULTILINE))


def test_help_lists_every_target_the_readme_names() -> None:
    listed = _listed()
    named = set(re.findall(r"`make ([a-z-]+)", (ROOT / "README.md").read_text()))
    assert named <= listed, named - listed
    expected = {"test-fast", "test-unit", "test-integration", "bench-report", "dashboard-fake"}
    assert {*expected, "fmt"} <= listed


def test_every_target_has_its_help_line_and_is_phony() -> None:
    """A rule is a command (`.PHONY`, with a `## what it does` that `make help` lists) or
    builds a file (its target is a path)."""
    rules = _rules()
    files = {target for target in rules if "/" in target or "$" in target}
    commands = set(rules) - files - {".PHONY"}
    assert commands == _phony(), commands ^ _phony()
    undocumented = {target for target in commands if "## " not in rules[target]}
    assert not undocumented
    listed = _listed()
    assert listed == commands, listed ^ commands


def test_fmt_fixes_and_formats_test_fast_runs_the_unit_tier_alone() -> None:
    fmt = _make("-n", "fmt").stdout
    assert re.search(r"ruff check --fix \.$", fmt, flags=re.MULTILINE), fmt
    assert re.search(r"ruff format \.$", fmt, flags=re.MULTILINE), fmt
    fast = _make("-n", "test-fast").stdout
    assert re.search(r"pytest tests/unit$", fast, flags=re.MULTILINE), fast


def test_lint_runs_mypy_over_tests_bench_and_scripts_too() -> None:
    lint = _make("-n", "lint").stdout
    assert re.search(r"mypy$", lint, flags=re.MULTILINE), lint  # on `[tool.mypy] files`
    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    sources = {"shared/src", "services/api/src", "services/invalidator/src", "services/metrics/src"}
    assert {*sources, "tests", "bench", "scripts"} <= set(files)


@pytest.mark.parametrize(
    ("compose", "engine", "says"),
    [(1, 0, "Compose plugin"), (0, 1, "running Docker engine")],
    ids=["no compose plugin", "no engine"],
)
def test_make_up_says_what_is_missing(tmp_path: Path, compose: int, engine: int, says: str) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    fake = tmp_path / "docker"
    fake.write_text(FAKE_DOCKER.format(compose=compose, engine=engine))
    fake.chmod(0o755)
    done = _make("up", path=f"{tmp_path}:{os.environ['PATH']}")
    assert done.returncode != 0
    assert says in done.stderr, done.stderr
    assert "unexpected" not in done.stderr  # compose itself was never run


def _tool_commands(lines: list[str]) -> list[str]:
    """`ruff check`, `mypy`...: each `uv run --frozen <tool> ...` command, without its paths
    and the flags that only say which files (`.`, `--force-exclude`)."""
    found = []
    for line in lines:
        _, run, command = line.partition("run --frozen ")
        if run:
            words = command.split()
            found.append(" ".join(w for w in words if w not in {".", "--force-exclude"}))
    return found


def test_pre_commit_runs_the_checks_of_make_lint() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    entries = _tool_commands([hook["entry"] for hook in hooks])
    lint = _tool_commands(_make("-n", "lint").stdout.splitlines())
    assert entries == lint
    assert {"ruff check", "ruff format --check", "mypy", "lint-imports"} <= set(lint)
