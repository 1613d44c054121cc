"""Every test carries the tier of the folder it lives in, and a misspelt marker is an error
(pytest `--strict-markers`), so `-m unit` and `make test-fast` select what they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import TESTS, TIERS, _tier_of

ROOT = TESTS.parent


def _item(path: Path) -> Any:
    return SimpleNamespace(path=path, nodeid=str(path.relative_to(ROOT)))


def test_this_test_carries_the_unit_tier_and_no_other(request: pytest.FixtureRequest) -> None:
    markers = {marker.name for marker in request.node.iter_markers()}
    assert "unit" in markers
    assert not markers & (set(TIERS) - {"unit"})


@pytest.mark.parametrize("tier", TIERS)
def test_the_tier_is_the_folder(tier: str) -> None:
    assert _tier_of(_item(TESTS / tier / "deeper" / "test_x.py")) == tier


@pytest.mark.parametrize("where", ["test_x.py", "elsewhere/test_x.py"])
def test_a_test_outside_every_tier_is_refused(where: str) -> None:
    with pytest.raises(pytest.UsageError, match="tests/<tier>/"):
        _tier_of(_item(TESTS / where))


def test_a_misspelt_marker_is_an_error(tmp_path: Path) -> None:
    test_file = tmp_path / "test_typo.py"
    test_file.write_text("import pytest\n\n\n@pytest.mark.intergration\ndef test_x():\n    pass\n")
    config = ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), "-p", "no:cacheprovider"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *config, "--collect-only", "-q", str(test_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert "'intergration' not found in `markers`" in done.stdout + done.stderr
