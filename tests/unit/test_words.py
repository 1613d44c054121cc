"""Comments and documents point a reader at a README section, never at words only the
project's history explains: an issue's number, "the plan", a team's "B2", a "Property 3"."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXT = (".py", ".md", ".toml", ".yaml", ".yml", ".js", ".ts", ".sh", "Makefile")
HISTORY = re.compile(
    r"\bissue #?\d|\bplan" + "'s" + r"|\bthe plan\b|\bB\d's\b|\bProperty \d|\bwithCache\b",
    flags=re.IGNORECASE,
)
NAMES_THEM_ON_PURPOSE = {str(Path(__file__).resolve().relative_to(ROOT))}


def _tracked_text() -> list[str]:
    done = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout")
    return [path for path in done.stdout.splitlines() if path.endswith(TEXT)]


def test_no_text_cites_the_projects_history() -> None:
    cited = {}
    for path in _tracked_text():
        lines = (ROOT / path).read_text(errors="replace").splitlines()
        hits = [f"{n}: {line.strip()}" for n, line in enumerate(lines, 1) if HISTORY.search(line)]
        if hits and path not in NAMES_THEM_ON_PURPOSE:
            cited[path] = hits
    assert cited == {}


@pytest.mark.parametrize(
    "line",
    ["(issue 7)", "the plan" + "'s `withCache`", "B2" + "'s modules", "Property 3, no stampede"],
)
def test_the_check_sees_each_kind(line: str) -> None:
    assert HISTORY.search(line)
