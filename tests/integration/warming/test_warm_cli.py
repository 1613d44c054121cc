"""`python -m collabcache_api.cli warm`: exit code, the report, a progress bar only on a
terminal (or when asked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from collabcache_api.cli import main

# In this process: its CPU priority stays as it is, and it forks no other (a subprocess does).
SMALL_WARM = ["warm", "--users", "5", "--studies", "5", "--concurrency", "2", "--processes", "1"]
SMALL_WARM += ["--nice", "0"]


@pytest.fixture
def warm_env(monkeypatch: pytest.MonkeyPatch, warm_db: str, servers: dict[str, str]) -> None:
    monkeypatch.setenv("DATABASE_URL", warm_db)
    monkeypatch.setenv("REDIS_URL", servers["redis"])
    monkeypatch.setenv("REDIS_KEY_PREFIX", f"ccwarmcli:{uuid.uuid4().hex[:12]}")


def test_warm_prints_a_json_report_and_no_progress_off_a_terminal(
    warm_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*SMALL_WARM, "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out.strip().splitlines()[-1])
    assert report["planned"] == report["filled"] > 0
    assert report["families"]["ORGANIZATION_MEMBERS"]["filled"] == 4  # every organization
    assert report["database_queries"] > 0
    assert report["niceness"] == os.nice(0)
    assert "warming" not in err  # stderr is no terminal here: no bar

    assert main([*SMALL_WARM, "--progress"]) == 0  # again: everything is fresh now
    out, err = capsys.readouterr()
    assert out.startswith(f"warmed {report['planned']} entries")
    assert f"0 filled, 0 refused (a write's fence or a lost lease), {report['planned']}" in out
    assert "warming" in err  # the bar, asked for


@pytest.mark.parametrize("args", [["warm", "--concurrency", "0"], ["warm", "--users", "x"]])
def test_bad_warm_usage_exits_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2


def test_the_warm_runs_at_a_lower_cpu_priority_than_its_caller(warm_env: None) -> None:
    """By default (and by `--nice`), so that an API on the same host keeps its latency."""
    command = [sys.executable, "-m", "collabcache_api.cli", *SMALL_WARM[:-2], "--json"]
    base = os.nice(0)
    for extra, expected in (([], base + 10), (["--nice", "3"], base + 3)):
        done = subprocess.run([*command, *extra], capture_output=True, text=True, check=True)
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["niceness"] == min(expected, 19)


def test_a_warm_in_two_processes_fills_each_planned_entry_once(warm_env: None) -> None:
    """The second process fills its share, not the first's: nothing is found fresh, nothing
    missed; a warm in one process afterwards finds every entry fresh."""
    command = [sys.executable, "-m", "collabcache_api.cli", *SMALL_WARM[:-4], "--json"]
    reports = []
    for processes in ("2", "1"):
        done = subprocess.run(
            [*command, "--processes", processes], capture_output=True, text=True, check=True
        )
        reports.append(json.loads(done.stdout.strip().splitlines()[-1]))
    split, again = reports
    assert split["processes"] == 2
    assert split["planned"] == split["filled"] > 0
    assert split["fresh"] == split["failed"] == 0
    assert again["planned"] == again["fresh"] == split["planned"]
    assert split["database_queries"] > 0
