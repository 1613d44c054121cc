"""A test phase still running shortly before pytest-timeout ends it prints every asyncio task's
stack (pytest-timeout shows threads only, and a hung `await` looks like an idle loop there)."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import io
import sys
import threading
from collections.abc import Iterator

import pytest

REPORT_BEFORE_TIMEOUT_S = 20.0


def _report(what: str) -> None:
    out = sys.__stderr__
    if out is None:
        return
    out.write(f"\n===== still running: {what}; asyncio tasks =====\n")
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.AbstractEventLoop) and obj.is_running():
            for task in asyncio.all_tasks(obj):
                stack = io.StringIO()
                task.print_stack(file=stack)
                out.write(f"--- {task!r}\n{stack.getvalue()}\n")
    faulthandler.dump_traceback(out)
    out.flush()


def _watch(item: pytest.Item, phase: str) -> threading.Timer | None:
    timeout = float(item.config.getini("timeout") or 0)
    marker = item.get_closest_marker("timeout")
    if marker and marker.args:
        timeout = float(marker.args[0])
    if timeout <= REPORT_BEFORE_TIMEOUT_S:
        return None
    timer = threading.Timer(timeout - REPORT_BEFORE_TIMEOUT_S, _report, (f"{item.nodeid} {phase}",))
    timer.daemon = True
    timer.start()
    return timer


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    timer = _watch(item, "call")
    yield
    if timer:
        timer.cancel()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    timer = _watch(item, "teardown")
    yield
    if timer:
        timer.cancel()
