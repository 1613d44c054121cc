"""The command line imports what a command runs only when it runs: `warm` lowers its CPU
priority before importing the app (a second of CPU an API on the same host would otherwise
share at full priority; README, "Cache warming")."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "fastapi", "redis", "asyncpg", "collabcache_api.bootstrap")
PROBE = f"""
import sys
import collabcache_api.cli as cli
cli.build_parser().parse_args(["warm", "--nice", "3"])
print(",".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def test_the_cli_and_its_parser_import_nothing_heavy() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
