"""The load generator's HTTP/1.1 client: keep-alive connections on asyncio protocols, responses
parsed by httptools (uvicorn's parser).

Why not aiohttp: against the bare Redis-GET app on this machine, aiohttp's own path (the
session, the connector, its request and response objects) put 1.6 ms between a request leaving
and its answer read at 200 requests/s (p99 4.6 ms), where a protocol writing the request's bytes
and parsing the answer took 0.8 ms (p99 1.6 ms): the client was most of what a cache hit was
measured at (docs/benchmarks.md, "How the load is made"). This client does only what the
generator needs: a request's bytes out on an idle connection, status, headers and body back.
Answers must carry a length or be chunked, as uvicorn's do; HEAD is refused.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools
import orjson


class ClientError(Exception):
    """No answer: the connection failed or closed, or the answer was not HTTP."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass(slots=True)
class _Answer:
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time (HTTP/1.1, no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer = _Answer()
        self.waiter: asyncio.Future[Response] | None = None
        self.reusable = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ClientError(f"bad response: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(ClientError(f"connection lost: {exc}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.answer.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.answer.body.append(body)

    def on_message_complete(self) -> None:
        answer, self.answer = self.answer, _Answer()
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            return  # an interim answer: the final one follows
        self.reusable = self.reusable and self.parser.should_keep_alive()
        if self.waiter is None or self.waiter.done():
            self.close()  # an answer nobody asked for: the connection is out of step
            return
        self.waiter.set_result(Response(status, answer.headers, b"".join(answer.body)))

    @property
    def usable(self) -> bool:
        return self.reusable and self.transport is not None and not self.transport.is_closing()

    async def exchange(self, request: bytes) -> Response:
        """`request`'s bytes out, its answer back (the caller bounds the wait)."""
        assert self.transport is not None
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        self.transport.write(request)
        try:
            return await waiter
        finally:
            self.waiter = None

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)


class Client:
    """Requests to one `http://host:port`, over at most `limit` keep-alive connections; a
    request that finds them all busy waits for one (that wait counts in its latency)."""

    def __init__(self, base_url: str, limit: int, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.host_header = parts.netloc.encode()
        self.timeout_s = timeout_s
        self.slots = asyncio.Semaphore(limit)
        self.idle: collections.deque[_Connection] = collections.deque()
        self.open: set[_Connection] = set()

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        json: object | None = None,
    ) -> Response:
        """The answer; `ClientError`, `OSError` (no connection) or `TimeoutError` if none came
        within the timeout, which bounds the whole request: the wait for a free connection,
        opening one, and the answer."""
        if method == "HEAD":
            raise ValueError("HEAD is not supported: its answer's length would be awaited")
        data = b"" if json is None else orjson.dumps(json)
        request = self._encode(method, path, headers or {}, data, json is not None)
        async with asyncio.timeout(self.timeout_s), self.slots:
            connection = await self._connection()
            try:
                response = await connection.exchange(request)
            except BaseException:
                connection.close()
                self.open.discard(connection)
                raise
            if connection.usable:
                self.idle.append(connection)
            else:
                connection.close()
                self.open.discard(connection)
            return response

    def _encode(
        self, method: str, path: str, headers: dict[str, str], data: bytes, is_json: bool
    ) -> bytes:
        lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self.host_header]
        lines += [f"{name}: {value}".encode() for name, value in headers.items()]
        if is_json:
            lines.append(b"Content-Type: application/json")
        if data or method != "GET":
            lines.append(b"Content-Length: %d" % len(data))
        return b"\r\n".join(lines) + b"\r\n\r\n" + data

    async def _connection(self) -> _Connection:
        while self.idle:
            connection = self.idle.pop()  # the most recently used: warm in every cache
            if connection.usable:
                return connection
            self.open.discard(connection)
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self.host, self.port)
        self.open.add(connection)
        return connection

    async def aclose(self) -> None:
        for connection in list(self.open):
            connection.close()
        self.open.clear()
        self.idle.clear()
