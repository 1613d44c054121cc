"""Ctrl-C in `bench.run` (README, "Benchmarks").

Once installed, the benchmarks' processes start in sessions of their own (bench/processes.py),
so the terminal's SIGINT reaches only the orchestrator. The first one cancels the run: the part
in progress stops its servers and drops its databases on its way out (its own clean-up), no
later part starts, nothing is written, one line says so and the exit status is 130. A second
one, during that clean-up, kills every process at once, drops what databases it can within a
few seconds and exits 130 at once. SIGTERM and SIGHUP (a closed terminal) are handled alike,
exit status 128 + their number: in sessions of their own, the servers no longer get them from
the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import NoReturn

from bench import processes, support

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DROP_WITHIN_S = 5.0  # the leftover databases' last chance, when the run has to end now


def _say(line: str) -> None:
    """Straight to stderr: safe in a signal handler, whatever `print` was doing."""
    with contextlib.suppress(OSError):  # a closed terminal (SIGHUP) takes no more lines
        os.write(2, (line + "\n").encode())


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}es" if word.endswith("s") else f"{n} {word}s"


async def _drop_all() -> None:
    for name, admin_url in list(support.created.items()):
        with contextlib.suppress(Exception):  # what is left gets named, not raised
            await support.drop_database(admin_url, name)


def drop_left(within: float = DROP_WITHIN_S) -> list[str]:
    """Drop the databases the run created and has not dropped, for at most `within` seconds
    (in a thread of its own: it may run in a signal handler, inside the running loop); the
    names of those still there."""
    if support.created:
        worker = threading.Thread(target=asyncio.run, args=(_drop_all(),), daemon=True)
        worker.start()
        worker.join(within)
    return sorted(support.created)


def _left(databases: list[str]) -> str:
    if not databases:
        return ""
    return f"; databases left: {', '.join(databases)} (DROP DATABASE <name> WITH (FORCE))"


class Interrupt:
    """The signal handler of one run: `install()` first, `attach()` in the run's main task,
    `part` names what is in progress; when `count` is set, `finish()` ends the process."""

    def __init__(self) -> None:
        self.count = 0
        self.signum = signal.SIGINT  # the first signal: the exit status is 128 + its number
        self.part = "the run"
        self.running_at = 0  # processes running at the first signal
        self.databases_at = 0  # databases not dropped yet at the first signal
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        """From now on the processes start in sessions of their own: this stops them."""
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)
        processes.own_sessions = True

    @property
    def _name(self) -> str:
        return "Ctrl-C" if self.signum == signal.SIGINT else signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # what a shell reports for a command a signal ended

    def attach(self) -> None:
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            self._force()
        self.signum = signal.Signals(signum)
        self.running_at = len(processes.running())
        self.databases_at = len(support.created)
        _say(
            f"{self._name}: stopping {self.part} ({_count(self.running_at, 'process')}, "
            f"{_count(self.databases_at, 'database')} to drop); {self._name} again kills at once"
        )
        if self._task is None or self._loop is None or self._task.done():
            raise KeyboardInterrupt
        self._loop.call_soon_threadsafe(self._task.cancel)

    def _force(self) -> NoReturn:
        killed = processes.kill_all()
        databases = len(support.created)
        left = drop_left()
        _say(
            f"interrupted: {self.part} killed at once; {_count(killed, 'process')} killed, "
            f"{_count(databases - len(left), 'database')} dropped{_left(left)}; "
            "no results written"
        )
        os._exit(self.exit_status)

    def finish(self, written: list[Path]) -> NoReturn:
        """After the cancelled run: anything still there goes (the parts' own clean-up should
        have left nothing), one line says what happened, exit status 128 + the signal's number
        (130 for Ctrl-C). `written`: the files written before the signal came (it came after
        the run itself, then)."""
        killed = processes.kill_all()
        left = drop_left()
        extra = f"; {_count(killed, 'process')} still running killed" if killed else ""
        results = f"results {', '.join(map(str, written))}" if written else "no results"
        _say(
            f"interrupted: {self.part} cancelled; {_count(self.running_at, 'process')} "
            f"stopped, {_count(self.databases_at - len(left), 'database')} dropped"
            f"{extra}{_left(left)}; {results} written"
        )
        # Nothing left to stop: a signal from now on must not end the exit with a traceback, or
        # with its default action once the interpreter has put that back.
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        sys.exit(self.exit_status)
