"""`bench.run` under Ctrl-C and without its tools (README, "Benchmarks").

A terminal's Ctrl-C sends SIGINT to the whole foreground process group: here the orchestrator
runs in a session of its own and the test signals that group, as a terminal would. One Ctrl-C
must end the whole run (exit status 130, one "interrupted:" line, no traceback), with every
process it started gone, its database dropped and no results file; two in a row as well. A
missing `redis-server` or `wrk` must be named before anything starts (exit status 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
# The quickest part that starts servers: a seeded database, then a private redis-server, the
# API and the invalidator (uvicorn), about 10 s in.
PART = "invalidation_lag"
STOP_WITHIN_S = 20.0

pytestmark = pytest.mark.timeout(120)


class Tree(threading.Thread):
    """Every descendant of `pid` seen while it runs: pid -> (start time, command line); and
    those seen in the process group of `pid` (the group a terminal's Ctrl-C signals)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.seen: dict[int, tuple[float, str]] = {}
        self.in_group: set[str] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(self.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error, ProcessLookupError):
                        if child.pid not in self.seen:
                            line = " ".join(child.cmdline())
                            self.seen[child.pid] = (child.create_time(), line)
                            if os.getpgid(child.pid) == self.pid:
                                self.in_group.add(line)
            time.sleep(0.02)

    def count(self, word: str) -> int:
        return sum(word in line for _, line in list(self.seen.values()))

    def alive(self) -> list[psutil.Process]:
        left = []
        for pid, (started, _) in list(self.seen.items()):
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.create_time() == started and process.status() != "zombie":
                    left.append(process)
        return left


def _databases(admin_url: str, pid: int) -> set[str]:
    """The databases of the bench run `pid` (bench/support.py names them after it)."""

    async def names() -> set[str]:
        conn = await asyncpg.connect(admin_url)
        try:
            pattern = f"cc\\_bench\\_{pid}\\_%"
            rows = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", pattern
            )
        finally:
            await conn.close()
        return {row["datname"] for row in rows}

    return asyncio.run(names())


def _results() -> set[Path]:
    return set(RESULTS.glob("bench-*.json")) if RESULTS.exists() else set()


def _unmarked(before: set[Path]) -> set[Path]:
    """Results files written since `before` that do not say they were interrupted."""
    return {p for p in _results() - before if not json.loads(p.read_text()).get("interrupted")}


@contextlib.contextmanager
def _orchestrator(
    servers: dict[str, str], log: Path, *args: str, path: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Tree]]:
    """`bench.run --profile smoke` in a session of its own, its descendants watched; whatever
    is left at the end (a failing run) interrupted, then killed."""
    env = {**os.environ, "DATABASE_URL": servers["postgres"], "REDIS_URL": servers["redis"]}
    if path is not None:
        env["PATH"] = path
    command = [sys.executable, "-m", "bench.run", "--profile", "smoke", *args]
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    tree = Tree(proc.pid)
    tree.start()
    try:
        yield proc, tree
    finally:
        if proc.poll() is None:  # a run that ignored the test: let it clean up, then kill it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_WITHIN_S)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        tree.done.set()
        tree.join()
        for process in tree.alive():
            with contextlib.suppress(psutil.Error):
                process.kill()


def _wait_for(tree: Tree, proc: subprocess.Popen[bytes], word: str, count: int, log: Path) -> None:
    deadline = time.monotonic() + 90
    while tree.count(word) < count:
        assert proc.poll() is None, f"bench.run ended first:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {word} process:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def _ctrl_c(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole foreground group


def _check_stopped(log: Path, status: int, took: float, tree: Tree) -> str:
    """Exit status 130 in time, one "interrupted:" line (returned), no traceback, no process
    left."""
    text = log.read_text()
    assert status == 130, text[-3000:]
    assert took < STOP_WITHIN_S, text[-3000:]
    lines = [line for line in text.splitlines() if line.startswith("interrupted:")]
    assert len(lines) == 1, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert [p.pid for p in tree.alive()] == [], [line for _, line in tree.seen.values()]
    return lines[0]


@pytest.fixture
def redis_server() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip(f"the {PART} part runs a redis-server")


def test_one_ctrl_c_stops_the_servers_drops_the_database_and_writes_nothing(
    servers: dict[str, str], redis_server: None, tmp_path: Path
) -> None:
    admin, results = servers["postgres"], _results()
    output, log = tmp_path / "result.json", tmp_path / "bench.log"
    with _orchestrator(servers, log, "--parts", PART, "--output", str(output)) as (proc, tree):
        _wait_for(tree, proc, "uvicorn", 2, log)  # the API and the invalidator launched
        time.sleep(1.0)
        ours = _databases(admin, proc.pid)
        _ctrl_c(proc)
        sent = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_WITHIN_S)
        took = time.monotonic() - sent
    line = _check_stopped(log, proc.returncode, took, tree)
    assert "cancelled" in line and "no results written" in line, line
    assert tree.count("redis-server") == 1  # the servers had started
    assert tree.in_group == set()  # the Ctrl-C reached the orchestrator only
    assert len(ours) == 1  # and the database was there
    assert _databases(admin, proc.pid) == set()
    assert not output.exists()
    assert _unmarked(results) == set()


def test_a_second_ctrl_c_still_ends_cleanly(
    servers: dict[str, str], redis_server: None, tmp_path: Path
) -> None:
    admin, log = servers["postgres"], tmp_path / "bench.log"
    with _orchestrator(servers, log, "--parts", PART) as (proc, tree):
        _wait_for(tree, proc, "collabcache_api.cli migrate", 1, log)
        ours = _databases(admin, proc.pid)
        _ctrl_c(proc)
        time.sleep(0.02)  # most often during the first one's clean-up; it may be over already
        _ctrl_c(proc)
        sent = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_WITHIN_S)
        took = time.monotonic() - sent
    line = _check_stopped(log, proc.returncode, took, tree)
    # Killed at once when the second arrived during the clean-up; else the first had finished.
    assert "killed at once" in line or "cancelled" in line, line
    assert took < 8.0  # the databases' last chance is 5 s
    assert len(ours) == 1
    assert _databases(admin, proc.pid) == set()


def test_a_missing_tool_is_named_before_anything_starts(
    servers: dict[str, str], tmp_path: Path
) -> None:
    bare = tmp_path / "bin"  # a PATH with neither redis-server nor wrk on it
    bare.mkdir()
    assert shutil.which("redis-server", path=str(bare)) is None
    log = tmp_path / "bench.log"
    parts = ("--parts", f"{PART},ceiling,write_latency")
    with _orchestrator(servers, log, *parts, path=str(bare)) as (proc, tree):
        proc.wait(STOP_WITHIN_S)
    text = log.read_text()
    assert proc.returncode == 2, text[-3000:]
    assert "`redis-server` is not on PATH" in text, text
    assert "`wrk` is not on PATH" in text, text
    assert "apt-get install redis-server wrk" in text, text
    assert "--parts write_latency" in text, text  # what can run without them
    assert tree.seen == {}  # nothing started
