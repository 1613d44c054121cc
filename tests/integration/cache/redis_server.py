"""Private Redis servers for failure tests: one standalone server, or a 3-node Redis Cluster.

Each server is a `redis-server` child process on a free loopback port in a temp directory,
with persistence off, so a test may kill it, pause it or restart it (empty) on the same port
without touching the shared Redis of the run. `stop()` always runs (fixtures use `finally`).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
START_TIMEOUT = 10.0
CLUSTER_BUS_OFFSET = 10_000


def fence_window_s() -> int:
    """Whole seconds a new server grants no lease, under this run's cache settings."""
    from collabcache_shared.settings import CacheSettings

    return CacheSettings().young_server_seconds


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, cluster_bus: bool = False, taken: frozenset[int] = frozenset()) -> int:
    """A free loopback port; for a cluster node, below 55536 with its bus port (+10000) free
    and neither in `taken` (the other nodes' ports)."""
    if not cluster_bus:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    for _ in range(200):
        port = random.randrange(20_000, 45_000)
        pair = {port, port + CLUSTER_BUS_OFFSET}
        if not pair & taken and all(_bindable(p) for p in pair):
            return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisServer:
    """One `redis-server` process: start, kill (SIGKILL), pause, freeze, restart, stop."""

    def __init__(
        self, directory: Path, port: int | None = None, extra: tuple[str, ...] = ()
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self._paused_until = 0.0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def admin(self) -> redis.Redis:
        """A short-lived synchronous client for test control (never the app's client)."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        args += ["--logfile", str(self.directory / "redis.log"), *self.extra]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_until_answering()

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server on {self.port} exited: {log}")
            try:
                with self.admin() as client:
                    if client.ping():
                        return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} did not answer")
            time.sleep(0.02)

    def uptime(self) -> int:
        with self.admin() as client:
            return int(client.info("server")["uptime_in_seconds"])

    def wait_for_uptime(self, seconds: int | None = None) -> None:
        """A server up for less than `CACHE_FENCE_SECONDS` grants no lease (it may have lost
        writes' fences: README, "The fenced cache protocol"); tests that expect fills wait."""
        needed = fence_window_s() if seconds is None else seconds
        while self.uptime() < needed:
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the port refuses connections and the data (not persisted) is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        """Start again, empty, on the same port."""
        self.kill()
        self.start()

    def pause(self, ms: int) -> None:
        """`CLIENT PAUSE <ms> ALL`: connections are accepted, no command is answered until the
        pause ends, the data stays. Redis 7.0 holds `CLIENT UNPAUSE` too (it is a command of
        a client like any other), so a pause ends only when its time is up: see `resume`."""
        with self.admin() as client:
            client.execute_command("CLIENT", "PAUSE", ms, "ALL")
        self._paused_until = time.monotonic() + ms / 1000

    def pause_remaining(self) -> float:
        """Seconds until the current pause ends (0 when not paused)."""
        return max(0.0, self._paused_until - time.monotonic())

    def resume(self) -> None:
        """Wait for the pause to end, then for the server to answer again."""
        time.sleep(self.pause_remaining())
        self._wait_until_answering()

    def freeze(self) -> None:
        """SIGSTOP: the process stops entirely (the kernel still accepts connections)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def cluster_state(self) -> str:
        with self.admin() as client:
            info = client.execute_command("CLUSTER INFO")
        return str(info.get("cluster_state"))

    def stop(self) -> None:
        """End the process (whatever its state) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen process cannot act on TERM
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)


def _cluster_options(directory: Path) -> tuple[str, ...]:
    config = str(directory / "nodes.conf")
    return ("--cluster-enabled", "yes", "--cluster-config-file", config)


class RedisCluster:
    """Three masters, no replicas, every slot covered, on loopback."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.directory = directory
        self.nodes: list[RedisServer] = []
        taken: set[int] = set()
        for i in range(size):
            port = free_port(cluster_bus=True, taken=frozenset(taken))
            taken |= {port, port + CLUSTER_BUS_OFFSET}
            node_dir = directory / f"node{i}"
            self.nodes.append(RedisServer(node_dir, port, extra=_cluster_options(node_dir)))

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        options = ["--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *addresses, *options],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self._wait_until_ok()

    def _wait_until_ok(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            states = [node.cluster_state() for node in self.nodes]
            if states == ["ok"] * len(self.nodes):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ok: {states}")
            time.sleep(0.05)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def temp_directory(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"cc-{name}-"))
