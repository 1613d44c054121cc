"""Git never ignores a file it tracks: what is committed (the benchmark results behind
docs/benchmarks.md among them) shows up in `git status` when it changes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


@pytest.fixture(autouse=True)
def _checkout() -> None:
    if shutil.which("git") is None or _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")


def test_no_tracked_file_is_ignored() -> None:
    assert _git("ls-files").stdout  # the question is asked of a real checkout
    ignored = _git("ls-files", "--cached", "--ignored", "--exclude-standard").stdout
    assert ignored == ""


def test_a_new_benchmark_result_is_ignored() -> None:
    assert _git("check-ignore", "--no-index", "-q", "bench/results/bench-new.json").returncode == 0
