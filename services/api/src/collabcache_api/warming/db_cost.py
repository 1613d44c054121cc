"""What a warm costs the database: its statements and the time they took, counted by
SQLAlchemy's cursor events for the warm's own tasks only (a context variable marks them), so
the requests an API process serves meanwhile are not counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_COUNTED: ContextVar[DatabaseCost | None] = ContextVar("warm_database_cost", default=None)
_STARTED = "collabcache.warm_started"


@dataclass
class DatabaseCost:
    queries: int = 0
    seconds: float = 0.0


def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
    if _COUNTED.get() is not None:
        conn.info[_STARTED] = time.perf_counter()


def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
    cost = _COUNTED.get()
    started = conn.info.pop(_STARTED, None)
    if cost is not None and started is not None:
        cost.queries += 1
        cost.seconds += time.perf_counter() - started


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[DatabaseCost]:
    """Count the statements of the calling task and of the tasks it starts meanwhile."""
    cost = DatabaseCost()
    token = _COUNTED.set(cost)
    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", _before)
    event.listen(sync, "after_cursor_execute", _after)
    try:
        yield cost
    finally:
        event.remove(sync, "before_cursor_execute", _before)
        event.remove(sync, "after_cursor_execute", _after)
        _COUNTED.reset(token)
