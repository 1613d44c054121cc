"""The Makefile a newcomer reads first: `make help` lists every target the README names, and
`make up` says what is missing (the Compose plugin, a running engine) before compose runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

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


def test_help_lists_every_target_the_readme_names() -> None:
    listed = set(re.findall(r"make (\S+)", _make("help").stdout))
    named = set(re.findall(r"`make ([a-z-]+)", (ROOT / "README.md").read_text()))
    assert named <= listed, named - listed
    expected = {"test-fast", "test-unit", "test-integration", "bench-report", "dashboard-fake"}
    assert expected <= listed


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
