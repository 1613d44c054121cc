"""What a request must be before the application reads it (README, "Security"): a body no
larger than the largest legal one (413, before anything is read when `Content-Length` says so),
and a `Host` this deployment serves (400; the probes `/health` and `/ready` are exempt, as
orchestrators call them by address). Plain ASGI, in front of everything else.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBES = frozenset({"/health", "/ready"})


async def answer(send: Send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a body over `max_bytes`: at once from `Content-Length`, or as soon as a chunked
    body goes past the limit; the application then sees the client gone, and whatever it
    answers is dropped. A request with neither has no body (RFC 9112, 6.3): a GET, every cache
    hit among them, passes untouched."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = f"The request body is larger than {max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.isdigit():
                await answer(send, 400, "Content-Length is not a number")
            elif int(length) > self.max_bytes:
                await answer(send, 413, self.detail)
            else:
                await self.app(scope, receive, send)
            return
        if _header(scope, b"transfer-encoding") is None:  # no length, not chunked: no body
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await answer(send, 413, self.detail)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


class HostCheck:
    """400 unless the `Host` header names one of `hosts` (`*` allows any; a leading `*.`
    allows subdomains)."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.exact = frozenset(h.lower() for h in hosts if not h.startswith("*."))
        self.suffixes = tuple(h[1:].lower() for h in hosts if h.startswith("*."))

    def allows(self, host_header: bytes | None) -> bool:
        if host_header is None:
            return False
        host = host_header.decode("latin-1").lower()
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host  # drop the port
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.any
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in PROBES
            or self.allows(_header(scope, b"host"))
        ):
            await self.app(scope, receive, send)
            return
        await answer(send, 400, "Invalid Host header")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
