"""The load generator's HTTP client (bench.load.http_client) against a loopback server of the
test's own: answers parsed whole (lengths and chunks), bodies sent, connections kept alive up to
the limit, and no answer (a timeout, a dropped connection) raised, never a hang."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from bench.load.http_client import Client, ClientError

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # False: close


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + (await reader.readexactly(length) if length else b"")


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A server answering with `handler`; yields its URL and the number of connections made."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while await handler(await _read_request(reader), writer):
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}", connections


async def echo(request: bytes, writer: asyncio.StreamWriter) -> bool:
    body = request.split(b"\r\n\r\n", 1)[1] or request.split(b"\r\n")[0]
    writer.write(b"HTTP/1.1 201 Created\r\nX-Cache: HIT\r\nContent-Length: %d\r\n\r\n" % len(body))
    writer.write(body)
    return True


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 20))


def test_a_get_and_a_post_come_back_whole_on_one_kept_connection() -> None:
    async def scenario() -> None:
        async with server(echo) as (url, connections):
            client = Client(url, limit=4, timeout_s=5)
            got = await client.request("GET", "/a?b=1", {"Authorization": "Bearer t"})
            posted = await client.request("POST", "/c", None, {"body": "é"})
            await client.aclose()
        assert (got.status, got.headers["x-cache"], got.body) == (
            201,
            "HIT",
            b"GET /a?b=1 HTTP/1.1",
        )
        assert posted.body == '{"body":"é"}'.encode()
        assert len(connections) == 1

    run(scenario())


def test_a_chunked_answer_is_joined() -> None:
    async def chunked(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        return True

    async def scenario() -> None:
        async with server(chunked) as (url, _):
            client = Client(url, limit=1, timeout_s=5)
            assert (await client.request("GET", "/")).body == b"abcde"
            await client.aclose()

    run(scenario())


def test_concurrent_requests_open_at_most_limit_connections() -> None:
    async def slow(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        return await echo(request, writer)

    async def scenario() -> None:
        async with server(slow) as (url, connections):
            client = Client(url, limit=3, timeout_s=5)
            answers = await asyncio.gather(*(client.request("GET", f"/{i}") for i in range(12)))
            await client.aclose()
        assert [a.body for a in answers] == [f"GET /{i} HTTP/1.1".encode() for i in range(12)]
        assert len(connections) == 3

    run(scenario())


async def silent(request: bytes, writer: asyncio.StreamWriter) -> bool:
    await asyncio.sleep(5)
    return False


async def hang_up(request: bytes, writer: asyncio.StreamWriter) -> bool:
    return False


@pytest.mark.parametrize(("handler", "error"), [(silent, TimeoutError), (hang_up, ClientError)])
def test_no_answer_raises_and_the_connection_is_dropped(
    handler: Handler, error: type[Exception]
) -> None:
    async def scenario() -> None:
        async with server(handler) as (url, _):
            client = Client(url, limit=1, timeout_s=0.2)
            with pytest.raises(error):
                await client.request("GET", "/")
            assert not client.idle and not client.open
            await client.aclose()

    run(scenario())


def test_a_connection_the_server_asks_to_close_is_not_reused() -> None:
    async def once(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        return False

    async def scenario() -> None:
        async with server(once) as (url, connections):
            client = Client(url, limit=1, timeout_s=5)
            for _ in range(3):
                assert (await client.request("GET", "/")).body == b"ok"
            await client.aclose()
        assert len(connections) == 3

    run(scenario())


def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def answer_then_close(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await echo(request, writer)
        return False  # closed after a keep-alive answer: the client learns it only by the FIN

    async def scenario() -> None:
        async with server(answer_then_close) as (url, connections):
            client = Client(url, limit=1, timeout_s=5)
            for _ in range(3):
                assert (await client.request("GET", "/x")).status == 201
                await asyncio.sleep(0.05)
            await client.aclose()
        assert len(connections) == 3

    run(scenario())


def test_an_interim_answer_is_not_the_answer() -> None:
    async def continue_first(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return await echo(request, writer)

    async def scenario() -> None:
        async with server(continue_first) as (url, _):
            client = Client(url, limit=1, timeout_s=5)
            assert (await client.request("GET", "/y")).status == 201
            assert (await client.request("GET", "/z")).body == b"GET /z HTTP/1.1"
            await client.aclose()

    run(scenario())


def test_no_server_raises_os_error() -> None:
    async def scenario() -> None:
        async with server(echo) as (url, _):
            pass  # closed: nothing listens on its port any more
        client = Client(url, limit=1, timeout_s=5)
        with pytest.raises(OSError):
            await client.request("GET", "/")
        assert not client.open

    run(scenario())
