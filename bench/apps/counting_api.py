"""The real API, counting its database queries: a bench-only launcher, no product change.

`create_app()` builds the product's app with `collabcache_api.main.create_app` and listens to
`before_cursor_execute` on SQLAlchemy's `Engine` class, so every statement of every engine is
seen. Only statements run on behalf of a request are counted (a context variable set by an ASGI
middleware; tasks a request spawns inherit it): the outbox relay's own polling is not a request's
cost. Each response carries `X-Bench-Queries` and `X-Bench-Reads` (statements, and reads among them:
SELECT/WITH, run before its headers left), so the counts hold whichever worker process answered.
What a request's tasks read after its headers left (refresh-ahead after a write, the background
refresh of an entry served stale) is its process's background: each response carries the
process's running total (`X-Bench-Background-Reads`) and its pid (`X-Bench-Worker`), so the
runner adds each process's growth over a phase to the phase's reads.

Usage: `uvicorn bench.apps.counting_api:create_app --factory` with the API's usual environment.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collabcache_shared.settings import CacheSettings

QUERIES_HEADER = b"x-bench-queries"
READS_HEADER = b"x-bench-reads"
BACKGROUND_HEADER = b"x-bench-background-reads"
WORKER_HEADER = b"x-bench-worker"
_background = [0]  # reads of this process's requests' tasks after their headers left
_request_cell: ContextVar[list[int] | None] = ContextVar("bench_request_queries", default=None)
READ_HEADS = frozenset({"SELE", "WITH"})


def _count(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    cell = _request_cell.get()
    if cell is None:
        return
    reads = statement.lstrip()[:4].upper() in READ_HEADS
    if cell[2]:  # the response has started: a task the request left running
        _background[0] += reads
        return
    cell[0] += 1
    cell[1] += reads


class CountQueries:
    """ASGI middleware: a query counter per request, reported in a response header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_bench"):
            await self.app(scope, receive, send)
            return
        cell = [0, 0, 0]  # statements, reads, whether the response has started
        token = _request_cell.set(cell)

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                cell[2] = 1
                headers = list(message.get("headers", []))
                headers.append((QUERIES_HEADER, str(cell[0]).encode()))
                headers.append((READS_HEADER, str(cell[1]).encode()))
                headers.append((BACKGROUND_HEADER, str(_background[0]).encode()))
                headers.append((WORKER_HEADER, str(os.getpid()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, counted_send)
        finally:
            _request_cell.reset(token)


def instrument(app: FastAPI) -> FastAPI:
    """Count `app`'s queries, per response: around the whole stack as built (the product's hit
    path, which answers before any middleware, included), so every response is counted."""
    if not event.contains(Engine, "before_cursor_execute", _count):
        event.listen(Engine, "before_cursor_execute", _count)
    build = app.build_middleware_stack

    def counted_stack() -> ASGIApp:
        return CountQueries(build())

    setattr(app, "build_middleware_stack", counted_stack)  # noqa: B010 (a method)
    return app


def create_app(cache_settings: CacheSettings | None = None) -> FastAPI:
    from collabcache_api.main import create_app as product_app

    return instrument(product_app(cache_settings=cache_settings))
