"""The dashboard's files: `static/index.html` at `/`, everything under `static/` at
`/static/...`. GET and HEAD only; a path that leaves the directory, or names no file, is 404."""

from __future__ import annotations

import mimetypes
from pathlib import Path

import anyio
from faststream.asgi import AsgiResponse
from faststream.asgi.types import Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static/"
INDEX = "index.html"
PLACEHOLDER = (
    b"<!doctype html><title>collabcache metrics</title><p>See <a href='/stats'>/stats</a>."
)
# The dashboard changes with the service: revalidate rather than cache.
CACHE_CONTROL = "no-cache"


class StaticFiles:
    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.directory = directory.resolve()

    def file_for(self, relative: str) -> Path | None:
        candidate = (self.directory / relative.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.directory) or not candidate.is_file():
            return None
        return candidate

    async def respond(self, relative: str, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in {"GET", "HEAD"}:
            response = AsgiResponse(b"Method Not Allowed", 405, {"Allow": "GET, HEAD"})
            await response(scope, receive, send)
            return
        path = self.file_for(relative)
        if path is None:
            body = PLACEHOLDER if relative == INDEX else b"Not Found"
            status, content_type = (200, "text/html") if relative == INDEX else (404, "text/plain")
        else:
            body = await anyio.Path(path).read_bytes()
            status = 200
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        headers = {"Content-Type": content_type, "Cache-Control": CACHE_CONTROL}
        if scope["method"] == "HEAD":
            headers["Content-Length"] = str(len(body))
            body = b""
        await AsgiResponse(body, status, headers)(scope, receive, send)

    async def index(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.respond(INDEX, scope, receive, send)

    def serves(self, path: str) -> bool:
        return path.startswith(STATIC_PREFIX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.respond(scope["path"][len(STATIC_PREFIX) :], scope, receive, send)
