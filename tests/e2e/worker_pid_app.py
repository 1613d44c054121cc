"""A tiny ASGI app for the bench's warm-up test: it answers every request with the pid of the
worker process that served it (`X-Bench-Worker`, as `bench.apps.counting_api` does) and notes
the request in a file of that process's own under `WORKER_LOG_DIR`."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.types import Receive, Scope, Send


def create_app() -> object:
    log = Path(os.environ["WORKER_LOG_DIR"]) / str(os.getpid())

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        with log.open("a") as notes:
            notes.write(scope["path"] + "\n")
        pid = str(os.getpid()).encode()
        headers = [(b"x-bench-worker", pid), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    return app
