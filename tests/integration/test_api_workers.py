"""The API as production runs it (`collabcache-api`) with `API_WORKERS=2` (README, "Running on
more cores"): two worker processes share the port, each logs in the service's format, each
keeps the bounded request head, and SIGTERM stops them all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.integration

API = Path(sys.executable).parent / "collabcache-api"
Running = tuple[subprocess.Popen[bytes], str, Path]  # the server, its URL, its log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def two_workers(database_url: str, servers: dict[str, str], tmp_path: Path) -> Iterator[Running]:
    port, log = _free_port(), tmp_path / "api.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": servers["redis"],
        "REDIS_KEY_PREFIX": f"workers-{port}",
        "API_PORT": str(port),
        "API_WORKERS": "2",
        "MAX_HEADER_BYTES": "2048",
        "LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        process = subprocess.Popen([str(API)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        yield process, f"http://127.0.0.1:{port}", log
    finally:
        _kill_tree(process)


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    """The server and its workers: a worker whose parent was killed outlives it (it would poll
    a dropped database for ever)."""
    try:
        workers = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        workers = []
    if process.poll() is None:
        process.kill()
        process.wait()
    for worker in workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.kill()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the API exited while starting"
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the API never answered /ready")


def _starts_logged(log: Path) -> int:
    """'api starting' lines in the service's own format (JSON lines), one per worker."""
    lines = log.read_text().splitlines()
    return sum(
        line.startswith("{") and "api starting" in json.loads(line)["message"]
        for line in lines
        if line.startswith("{")
    )


def test_two_workers_share_the_port_log_alike_and_stop_together(two_workers: Running) -> None:
    process, url, log = two_workers
    children = [  # multiprocessing's resource tracker is a child too
        c for c in psutil.Process(process.pid).children() if "spawn_main" in " ".join(c.cmdline())
    ]
    assert len(children) == 2
    deadline = time.monotonic() + 20
    while _starts_logged(log) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _starts_logged(log) == 2, log.read_text()[-2000:]

    with httpx.Client(base_url=url) as client:
        assert client.get("/health").status_code == 200
        # The head limit reached the workers with their configuration (pickled to them).
        refused = client.get("/health", headers={"X-Long": "x" * 3000})
        assert refused.status_code == 431

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)


def test_keep_alive_connections_opened_at_once_spread_over_both_workers(
    two_workers: Running,
) -> None:
    """Each worker listens on a socket of its own (`SO_REUSEPORT`): a pool of keep-alive
    connections opened in a burst is spread by the kernel, not left with whichever worker
    accepted first (with one shared socket: 64 of 64, or 60 of 64, on one worker)."""
    process, url, _ = two_workers
    port = int(url.rsplit(":", 1)[1])
    workers = [
        c for c in psutil.Process(process.pid).children() if "spawn_main" in " ".join(c.cmdline())
    ]
    deadline = time.monotonic() + 30
    while not all(_listens(w, port) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)  # each worker listens once its own startup is complete
    held = []
    try:
        for _ in range(32):
            held.append(socket.create_connection(("127.0.0.1", port)))
        for sock in held:  # a request on each, so each is accepted and served
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for sock in held:
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        owned = [
            sum(c.laddr.port == port and c.status == "ESTABLISHED" for c in w.net_connections())
            for w in workers
        ]
        assert sum(owned) == 32 and min(owned) >= 4, owned
    finally:
        for sock in held:
            sock.close()


def _listens(worker: psutil.Process, port: int) -> bool:
    return any(c.laddr.port == port and c.status == "LISTEN" for c in worker.net_connections())
