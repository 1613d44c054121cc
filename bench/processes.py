"""Every process the benchmarks start, remembered while it runs.

Under `bench.run` (once bench/interrupt.py's handler is installed) each starts in a session of
its own, so a terminal's Ctrl-C (SIGINT to the whole foreground process group) reaches only the
orchestrator, which then stops them in order, and a second Ctrl-C kills whatever is left at once
(README, "Benchmarks"). Elsewhere (a benchmark module run on its own, the history test) they stay
in the caller's group, where a Ctrl-C reaches them as before.

`popen` and `spawn` start a process (blocking / asyncio); `run` and `output` run one to its end
and stop it when cancelled; `stop` ends one (SIGTERM, then SIGKILL); `kill_all` kills every
process still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

STOP_WAIT_S = 15.0  # SIGTERM's grace: a uvicorn process finishes its requests and lifespan

_live: dict[int, subprocess.Popen[bytes] | asyncio.subprocess.Process] = {}
own_sessions = False  # set by bench/interrupt.py's handler, which then stops them all


def _running(process: subprocess.Popen[bytes] | asyncio.subprocess.Process) -> bool:
    if isinstance(process, subprocess.Popen):
        return process.poll() is None
    return process.returncode is None


def _remember(process: subprocess.Popen[bytes] | asyncio.subprocess.Process) -> None:
    for pid, known in list(_live.items()):
        if not _running(known):
            del _live[pid]
    _live[process.pid] = process


def popen(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen`, in a session of its own under `bench.run`."""
    process = subprocess.Popen(args, start_new_session=own_sessions, **kwargs)
    _remember(process)
    return process


async def spawn(*args: str, **kwargs: Any) -> asyncio.subprocess.Process:
    """`asyncio.create_subprocess_exec`, in a session of its own under `bench.run`."""
    process = await asyncio.create_subprocess_exec(*args, start_new_session=own_sessions, **kwargs)
    _remember(process)
    return process


async def _ended(process: asyncio.subprocess.Process) -> None:
    """Called when the wait for `process` was cancelled: SIGTERM, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_WAIT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def run(args: Sequence[str], env: dict[str, str] | None = None) -> None:
    """Run to the end (stdout discarded); raises CalledProcessError on a non-zero status."""
    process = await spawn(*args, env=env, stdout=asyncio.subprocess.DEVNULL)
    try:
        status = await process.wait()
    except asyncio.CancelledError:
        await _ended(process)
        raise
    if status != 0:
        raise subprocess.CalledProcessError(status, list(args))


async def output(*args: str) -> tuple[bytes, bytes]:
    """Run to the end; its stdout and stderr."""
    process = await spawn(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        return await process.communicate()
    except asyncio.CancelledError:
        await _ended(process)
        raise


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not ended within STOP_WAIT_S."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    _live.pop(process.pid, None)


def running() -> list[int]:
    """The pids of the processes started here that are still running."""
    return [pid for pid, process in list(_live.items()) if _running(process)]


def kill_all(reap_within: float = 1.0) -> int:
    """SIGKILL to every process still running (its whole process group, when it has its own);
    how many there were. They are reaped for at most `reap_within` seconds: exiting now would
    leave zombies where no init reaps them (a container). Safe in a signal handler: no lock is
    waited for."""
    killed: list[int] = []
    for pid, process in list(_live.items()):
        if not _running(process):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if own_sessions:
                os.killpg(pid, signal.SIGKILL)  # its own session: its group id is its pid
            else:
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    deadline = time.monotonic() + reap_within
    waiting = set(killed)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            except ChildProcessError:  # reaped elsewhere (asyncio's child watcher)
                pass
            waiting.discard(pid)
        time.sleep(0.01)
    return len(killed)
