"""Child processes of `make run`: one-off steps and the supervised services, output prefixed.

Children run in their own session, so Ctrl-C reaches only the supervisor, which then stops
them in order; on Linux they also get SIGTERM if the supervisor itself dies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

STOP_GRACE_SECONDS = 10
PREFIX_WIDTH = 11
_COLORS = {"api": "36", "invalidator": "35", "metrics": "33", "devstack": "1"}
_USE_COLOR = sys.stdout.isatty()
# Reentrant: a signal handler may print while the main thread is printing.
_print_lock = threading.RLock()
# Local health checks must not go through an HTTP proxy from the environment.
_no_proxy_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform == "linux" else None


class StartupError(Exception):
    """The stack cannot start; the message says why."""


def say(message: str, source: str = "devstack") -> None:
    prefix = f"{source:>{PREFIX_WIDTH}} |"
    if _USE_COLOR:
        prefix = f"\033[{_COLORS.get(source, '0')}m{prefix}\033[0m"
    with _print_lock:
        print(f"{prefix} {message}", flush=True)


def _pump(source: str, stream: IO[str]) -> None:
    with stream:
        for line in stream:
            say(line.rstrip("\n"), source)


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGTERM when the supervisor dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(command: Sequence[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        list(command),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
        preexec_fn=_die_with_parent,  # safe: spawned before any output thread starts
    )


def _stop(processes: Sequence[subprocess.Popen[Any]]) -> None:
    """SIGTERM (a graceful shutdown for uvicorn), then SIGKILL after the grace period."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_step(name: str, command: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
    """Run a command to completion with its output prefixed by `name`; its exit code."""
    process = _spawn(command, env, cwd)
    try:
        assert process.stdout is not None
        _pump(name, process.stdout)
        return process.wait()
    finally:
        _stop([process])


@dataclass
class Service:
    name: str
    command: list[str]
    host: str
    port: int
    port_variable: str  # the setting that moves it to another port
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host
        return f"http://{host}:{self.port}"

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def is_healthy(self) -> bool:
        try:
            with _no_proxy_opener.open(f"{self.base_url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False


class Supervisor:
    """Starts the services, watches them, and stops them all (also on errors)."""

    def __init__(self, services: Sequence[Service], env: Mapping[str, str], cwd: Path) -> None:
        self.services = list(services)
        self._env = env
        self._cwd = cwd
        self._pumps: list[threading.Thread] = []

    def __enter__(self) -> Supervisor:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start(self) -> None:
        # Every child is forked before any output thread starts (preexec_fn and threads mix
        # badly); the pipes buffer their first lines meanwhile.
        for service in self.services:
            service.process = _spawn(service.command, self._env, self._cwd)
        for service in self.services:
            assert service.process is not None and service.process.stdout is not None
            pump = threading.Thread(
                target=_pump, args=(service.name, service.process.stdout), daemon=True
            )
            pump.start()
            self._pumps.append(pump)

    def first_exited(self) -> Service | None:
        return next((s for s in self.services if s.returncode is not None), None)

    def wait_for_first_exit(self, poll_seconds: float = 0.2) -> Service:
        while (exited := self.first_exited()) is None:
            time.sleep(poll_seconds)
        return exited

    def wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending:
            if (exited := self.first_exited()) is not None:
                raise StartupError(f"{exited.name} exited with code {exited.returncode}")
            pending = [s for s in pending if not s.is_healthy()]
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise StartupError(f"no answer on /health after {timeout:.0f} s from {names}")
            if pending:
                time.sleep(0.25)

    def stop(self) -> None:
        _stop([s.process for s in self.services if s.process is not None])
        for pump in self._pumps:
            pump.join(timeout=2)
