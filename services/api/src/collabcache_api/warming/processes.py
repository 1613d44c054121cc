"""A warm in several processes (`warm --processes N`; README, "Cache warming"): its list of fills is
made once, then each process fills every N-th fill of it (so each share stays hottest first),
with its own engine and Redis client. The other processes are forked from the planner once
its connections are closed; each sends its progress and, last, its counts up a pipe of its
own, and the parent sums them. A share whose process dies without its counts is counted
failed, as a fill that raised is."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from collabcache_shared.cache.batch import Ending

from .hot_set import Fill
from .run import WarmReport

log = logging.getLogger(__name__)

# Fills `fills`, calling `on_filled(entries)` after each: one process's whole share.
FillShare = Callable[[Sequence[Fill], Callable[[int], object]], Coroutine[Any, Any, WarmReport]]


def shares(fills: Sequence[Fill], processes: int) -> list[list[Fill]]:
    """Every `processes`-th fill to each: the first fills of the list go to all at once."""
    return [list(fills[i::processes]) for i in range(processes)]


def in_flight(concurrency: int, processes: int) -> list[int]:
    """Each process's fills in flight: `concurrency` split among them, so that together they
    never exceed it (`processes` is at most `concurrency`)."""
    return [concurrency // processes + (i < concurrency % processes) for i in range(processes)]


@dataclass
class Child:
    pid: int
    pipe: int  # the read end
    share: list[Fill]
    counts: dict[str, Any] | None = None
    pending: bytes = b""
    closed: bool = False  # its pipe, read to the end
    done: asyncio.Future[None] | None = field(default=None, repr=False)


def fork(share: list[Fill], fill_share: FillShare, siblings: list[Child]) -> Child:
    """A process filling `share`. Call it with no event loop running and no connection open:
    the child starts from a copy of this process (`siblings`: the children forked before, whose
    pipes it closes)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return Child(pid, read, share)
    status = 1
    try:
        for fd in (read, *(sibling.pipe for sibling in siblings)):
            os.close(fd)
        progress = lambda entries: _write(write, b"+%d\n" % entries)  # noqa: E731
        report = asyncio.run(fill_share(share, progress))
        _write(write, json.dumps(report.counts()).encode() + b"\n")
        status = 0
    except KeyboardInterrupt:
        pass  # the parent, interrupted too, says so
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    finally:
        try:
            sys.stderr.flush()
        finally:
            os._exit(status)  # not the parent's exit handlers: they are the parent's to run


def _write(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


async def gather(children: list[Child], on_filled: Callable[[int], object]) -> None:
    """Read every child's pipe until it closes (on the running loop, beside the parent's own
    share)."""
    loop = asyncio.get_running_loop()
    for child in children:
        child.done = loop.create_future()
        loop.add_reader(child.pipe, _read, loop, child, on_filled)
    await asyncio.gather(*(child.done for child in children if child.done is not None))


def stop(children: list[Child]) -> None:
    """The parent is ending early (interrupted, failed): the children stop too (SIGTERM), and
    their pipes are closed, so that none waits for ever on a pipe nobody reads."""
    for child in children:
        if not child.closed:
            child.closed = True
            os.close(child.pipe)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGTERM)


def reap(children: list[Child]) -> None:
    """Wait for every child to have exited (each has closed its pipe by then, or is about to);
    one that did not exit 0 is logged."""
    for child in children:
        _, status = os.waitpid(child.pid, 0)
        if status:
            code = os.waitstatus_to_exitcode(status)
            log.warning("warm: the process filling a share (pid %d) exited %d", child.pid, code)


def _read(
    loop: asyncio.AbstractEventLoop, child: Child, on_filled: Callable[[int], object]
) -> None:
    chunk = os.read(child.pipe, 65536)
    if not chunk:
        loop.remove_reader(child.pipe)
        os.close(child.pipe)
        child.closed = True
        if child.done is not None and not child.done.done():
            child.done.set_result(None)
        return
    *lines, child.pending = (child.pending + chunk).split(b"\n")
    for line in lines:
        if line.startswith(b"+"):
            on_filled(int(line[1:]))
        elif line:
            child.counts = json.loads(line)


def add_counts(report: WarmReport, children: list[Child]) -> None:
    """Each child's counts into `report`; a child that sent none failed its whole share."""
    for child in children:
        if child.counts is not None:
            report.add(child.counts)
            continue
        log.error("warm: the process filling a share (pid %d) ended without its counts", child.pid)
        for one in child.share:
            for _ in range(one.size):
                report.count(one.label, Ending.FAILED)
