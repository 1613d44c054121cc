"""What a request must be before the API reads it, and what every answer carries (README,
"Security"): a bounded head (431, in the server) and body (413, before it is read), no redirect
built from `Host`, only the named hosts in production, forwarded headers only from named
proxies, a 422 that shows an excerpt of its input, security headers, and docs that load
nothing from a CDN."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Message

from collabcache_api.guards import BodyLimit
from collabcache_api.main import create_app
from collabcache_api.server import server_config
from collabcache_shared.settings import ApiSettings
from tests.integration.builders import Builder

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
LIMIT = ApiSettings().max_body_bytes
HEAD_LIMIT = ApiSettings().max_header_bytes


def _assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status_code, name)


# -- bodies -----------------------------------------------------------------------------------


async def test_a_body_announced_over_the_limit_is_refused_unread() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the application must not be called")

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-length", str(LIMIT + 1).encode())]
    scope = {"type": "http", "method": "POST", "path": "/api/organizations", "headers": headers}
    await BodyLimit(app, LIMIT)(scope, receive, send)
    assert sent[0]["status"] == 413


async def test_bodies_over_the_limit_get_413_with_or_without_a_length(
    client: httpx.AsyncClient, build: Builder
) -> None:
    owner = await build.user("owner")
    big = json.dumps({"name": "n" * LIMIT}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    headers = {**owner.headers, "Content-Type": "application/json"}
    sized = await client.post("/api/organizations", content=big, headers=headers)
    chunked = await client.post("/api/organizations", content=chunks(), headers=headers)
    for response in (sized, chunked):
        assert response.status_code == 413, response.text[:200]
        assert str(LIMIT) in response.json()["detail"]
        _assert_secured(response)


async def test_the_largest_legal_body_fits_under_the_limit(
    client: httpx.AsyncClient, build: Builder
) -> None:
    """A comment of the longest legal length in characters JSON-escaped to the most bytes
    (astral characters: two `\\uXXXX` escapes each) is accepted."""
    s = await build.scene()
    longest = ApiSettings().max_comment_length
    body = json.dumps({"body": "\U0001f9ec" * longest}, ensure_ascii=True).encode()
    assert len(body) > 12 * longest
    path = f"/api/collaboration/studies/{s.study_id}/comments"
    headers = {**s.owner.headers, "Content-Type": "application/json"}
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 201, response.text[:200]


async def test_a_422_shows_an_excerpt_of_the_input_not_the_input(
    client: httpx.AsyncClient, build: Builder
) -> None:
    owner = await build.user("owner")
    long_name = "n" * (LIMIT // 2)
    too_long = await client.post(
        "/api/organizations", json={"name": long_name}, headers=owner.headers
    )
    missing = await client.post(
        "/api/organizations", json={"nome": long_name}, headers=owner.headers
    )
    for response in (too_long, missing):
        assert response.status_code == 422
        assert len(response.content) < 1000, len(response.content)
        assert response.json()["detail"][0]["input"].endswith("…")


# -- hosts and redirects ----------------------------------------------------------------------


async def test_no_redirect_is_built_from_the_host_header(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    path = f"/api/organizations/{s.org_id}/members/"
    response = await client.get(path, headers={**s.owner.headers, "Host": "evil.example"})
    assert response.status_code == 404
    assert "location" not in response.headers


@pytest.fixture
async def named_hosts_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API serving only api.example.org (no lifespan: these answers need no database)."""
    app = create_app(ApiSettings(database_url=database_url, allowed_hosts=["api.example.org"]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.org") as c:
        yield c


async def test_only_the_named_hosts_are_served_but_probes_answer_any(
    named_hosts_client: httpx.AsyncClient,
) -> None:
    evil = {"Host": "evil.example"}
    refused = await named_hosts_client.get("/api/organizations", headers=evil)
    assert refused.status_code == 400 and "Host" in refused.json()["detail"]
    _assert_secured(refused)
    assert (await named_hosts_client.get("/docs")).status_code == 200
    named = {"Host": "API.example.org:443"}
    assert (await named_hosts_client.get("/docs", headers=named)).status_code == 200
    assert (await named_hosts_client.get("/health", headers=evil)).status_code == 200


# -- headers and docs -------------------------------------------------------------------------


async def test_every_answer_carries_the_security_headers(
    client: httpx.AsyncClient, build: Builder
) -> None:
    s = await build.scene()
    answers = [
        await client.get("/health"),
        await client.get(f"/api/organizations/{s.org_id}/members", headers=s.owner.headers),
        await client.get("/api/organizations"),  # 401
        await client.get(f"/api/organizations/{s.org_id}/members", headers=s.outsider.headers),
        await client.post("/api/organizations", json={}, headers=s.owner.headers),  # 422
        await client.get("/docs"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 422, 200]
    for answer in answers:
        _assert_secured(answer)


async def test_the_docs_load_their_scripts_from_the_api_itself(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, page
        for source in sources:
            assert source.startswith("/"), (page, source)  # nothing from another origin
            if source.endswith((".js", ".css")):
                asset = await client.get(source)
                assert asset.status_code == 200 and len(asset.content) > 10_000, source


# -- the server: a bounded head, forwarded headers ---------------------------------------------


def _echo_app() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = json.dumps({"client": scope["client"][0], "scheme": scope["scheme"]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture
def serve() -> Iterator[Any]:
    """`serve(settings)`: our server configuration around an echo app, on a free port."""
    servers: list[tuple[Any, threading.Thread]] = []

    def start(settings: ApiSettings) -> tuple[str, int]:
        import uvicorn

        config = server_config(settings, _echo_app(), lifespan="off", log_level="warning")
        config.port = 0
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "no server"
            time.sleep(0.02)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        return host, port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def _raw(address: tuple[str, int], head: bytes) -> bytes:
    with socket.create_connection(address, timeout=10) as sock:
        with contextlib.suppress(OSError):  # the server may close before reading it all
            sock.sendall(head)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and not received.startswith(b"HTTP/1.1 200"):
                break
        return received


def test_a_request_head_over_the_limit_is_answered_431(serve: Any) -> None:
    address = serve(ApiSettings(api_host="127.0.0.1"))
    padding = b"x" * (HEAD_LIMIT + 1024)
    oversized = b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + padding + b"\r\n\r\n"
    assert _raw(address, oversized).startswith(b"HTTP/1.1 431")
    within = b"x" * (HEAD_LIMIT // 2)
    fine = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + within + b"\r\nConnection: close\r\n\r\n"
    assert _raw(address, fine).startswith(b"HTTP/1.1 200")


def test_forwarded_headers_count_only_from_the_named_proxies(serve: Any) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    default = serve(ApiSettings(api_host="127.0.0.1"))
    trusting = serve(ApiSettings(api_host="127.0.0.1", forwarded_allow_ips="127.0.0.1"))
    seen = {}
    for name, (host, port) in (("default", default), ("trusting", trusting)):
        seen[name] = httpx.get(f"http://{host}:{port}/", headers=forwarded).json()
    assert seen["default"] == {"client": "127.0.0.1", "scheme": "http"}
    assert seen["trusting"] == {"client": "203.0.113.9", "scheme": "https"}
