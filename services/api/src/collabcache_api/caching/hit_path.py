"""The hit path (README, "The hit path"): a cached GET answered before FastAPI routes it.

A plain ASGI layer around the whole application, FastAPI's middleware included
(`serve_hits_first`): a hit pays for none of it. What those layers would do to a hit it does
itself: a `Host` the API does not serve, or a GET with a body, falls through to them; a hit goes
through the same CORS middleware; every hit carries the security headers. For a GET of a route
declared as a cached read (`reads.CachedRead` on its endpoint), it checks the bearer token
(remembered, expiry checked each time), reads the page request, and looks up in one Redis round
trip that the caller exists, their standing and the page. When all three are fresh hits (or the
page, of an unpaginated read that may be, is served stale within its bound, its refresh
scheduled) and the standing lets the caller see the resource, it answers as the endpoint would
(`answers.raw_answer`, the same cache event). What a path, page and caller make of a read
(route, ids, slots, the packed lookup) is remembered; the token is still checked on every
request. Anything else falls through to FastAPI unchanged: a miss (its lookup handed on, not
repeated), an entry stale past its bound or refused, a refresh request, a token or a parameter
FastAPI would refuse, an unknown route, Redis unusable, or any error.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collabcache_shared.cache.lookup_call import Lookup
from collabcache_shared.cache.manager import CacheManager, Outcome, Result
from collabcache_shared.cache.store import Found, Slot
from collabcache_shared.security_headers import SECURITY_HEADERS

from ..bootstrap import Container
from ..guards import HostCheck
from .answers import note_lookup, raw_answer
from .hit_request import caller, variant_of
from .reads import LOOKED_UP, CachedRead, declared, slots_of
from .refill import own_session_loader

log = logging.getLogger(__name__)
CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The request headers the hit path reads, taken in one pass over the request's.
READ_HEADERS = frozenset(
    {b"authorization", b"cache-control", b"if-none-match", b"host", b"origin"}
    | {b"content-length", b"transfer-encoding"}
)
HIT_RESPONSE = "collabcache.hit_response"  # where a hit waits for the CORS middleware
# Requests' paths, pages and callers already read, per kind: emptied when full (about 2 KB
# each, route and lookup together: 9 MB measured at 4,096). Only what serves a read is kept,
# and only for a path and query string no longer than a real one (ids, a page's cursor): a
# client choosing long ones makes nothing grow.
REMEMBERED = 4096
LONGEST_REMEMBERED = 512  # bytes of path and query string
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


@dataclass(frozen=True, slots=True)
class Frame:
    """What the layers the hit path skips would have done: refuse a Host, add CORS headers."""

    hosts: HostCheck
    cors: ASGIApp  # the API's CORS middleware, around the hit's prepared response


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # the template, as cache events name the endpoint
    regex: re.Pattern[str]
    read: CachedRead


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a request's path, page and caller make of a read: the same every time."""

    route: Route
    ids: dict[str, uuid.UUID]
    variant: str
    slots: list[Slot]
    lookup: Lookup


def serve_hits_first(app: FastAPI, routes: Iterable[BaseRoute], frame: Frame) -> None:
    """Put the hit path around `app`'s whole middleware stack, as Starlette builds it."""
    build = app.build_middleware_stack

    def build_with_hit_path() -> ASGIApp:
        return HitPath(build(), routes, frame)

    setattr(app, "build_middleware_stack", build_with_hit_path)  # noqa: B010 (a method)


def cors_around_hits(**options: Any) -> ASGIApp:
    """The CORS middleware with `options`, answering with the hit it is handed."""
    return CORSMiddleware(_hit_response, **options)


async def _hit_response(scope: Scope, receive: Receive, send: Send) -> None:
    await _send(send, scope.pop(HIT_RESPONSE))


async def _send(send: Send, answer: Answer) -> None:
    status, headers, body = answer
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _added_by(cors: ASGIApp) -> list[tuple[bytes, bytes]]:
    """The headers `cors` adds to a response (without Vary) for a GET without an Origin."""
    sent: list[tuple[bytes, bytes]] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent.extend(message["headers"])

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    plain: Answer = (200, [(b"content-length", b"0")], b"")
    scope = {"type": "http", "method": "GET", "headers": [], HIT_RESPONSE: plain}
    await cors(scope, receive, capture)
    return [header for header in sent if header not in plain[1]]


class HitPath:
    """`routes`: the API's routes (its routers'); those of declared reads are served here."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute], frame: Frame) -> None:
        self.app = app
        self._routes = _declared_routes(routes)
        self._frame = frame
        self._cors_without_origin: list[tuple[bytes, bytes]] | None = None
        self.served = 0  # answers given here, for tests and benchmarks
        # Read once, remembered: a path's route and ids; a path, page and caller's lookup
        # (made with the container's settings and store: forgotten when it changes).
        self._matched: dict[str, tuple[Route, dict[str, uuid.UUID]]] = {}
        self._prepared: dict[tuple[str, bytes, uuid.UUID], Prepared] = {}
        self._prepared_for: Container | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            # the first of repeated lines wins, as FastAPI (Starlette's `Headers.get`) reads
            headers = {k: v for k, v in reversed(scope["headers"]) if k in READ_HEADERS}
            try:
                answer = await self._hit(scope, headers)
            except Exception:  # never the hit path's failure: FastAPI answers instead
                log.debug("hit path fell through on an error", exc_info=True)
                answer = None
            if answer is not None:
                self.served += 1
                await self._answer(scope, receive, send, answer, b"origin" in headers)
                return
        await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, answer: Answer, cross_origin: bool
    ) -> None:
        """The hit with the headers of the layers it skipped: CORS's (through the middleware
        itself for a request with an Origin; without one, what it adds to any response, found
        once) and the security headers."""
        answer[1].extend(SECURITY_HEADERS)
        if cross_origin:
            scope[HIT_RESPONSE] = answer
            await self._frame.cors(scope, receive, send)
            return
        if self._cors_without_origin is None:
            self._cors_without_origin = await _added_by(self._frame.cors)
        answer[1].extend(self._cors_without_origin)
        await _send(send, answer)

    def _framed(self, headers: dict[bytes, bytes]) -> bool:
        """What the skipped layers would pass: a served Host, and no body."""
        hosts = self._frame.hosts
        if b"content-length" in headers or b"transfer-encoding" in headers:
            return False
        return hosts.any or hosts.allows(headers.get(b"host"))

    async def _hit(self, scope: Scope, headers: dict[bytes, bytes]) -> Answer | None:
        container: Container | None = getattr(scope["app"].state, "container", None)
        cache = container.cache if container else None
        matched = self._match(scope["path"]) if cache is not None else None
        if container is None or cache is None or matched is None or not self._framed(headers):
            return None
        if b"no-cache" in headers.get(b"cache-control", b"").lower():
            return None
        started = time.perf_counter()
        user_id = caller(headers.get(b"authorization"), container.settings)
        if user_id is None:
            return None
        prepared = self._prepare(container, scope, matched, user_id)
        if prepared is None:
            return None
        route, ids, slots = prepared.route, prepared.ids, prepared.slots
        found = await cache.lookup(prepared.lookup)
        served = self._served(cache, route.read, found)
        if found is None or served is None:  # a miss, or Redis unusable: FastAPI goes on
            scope.setdefault("state", {})[LOOKED_UP] = (slots, found)  # from this lookup
            return None
        standing = route.read.standing(ids)
        if standing is not None and not standing.allows(served[1].body):
            return None  # FastAPI answers the 404, from the same cached standing
        answer = served[-1]
        if answer.outcome is Outcome.STALE:  # README, "Consistency guarantees", the limits
            refresh = own_session_loader(container, route.read, ids, user_id)
            cache.schedule_refresh(found[-1], refresh)
        if route.read.is_standing and standing is not None:  # rendered from the record
            answer = standing.response(answer, user_id)
        if_none_match = headers.get(b"if-none-match")
        raw = raw_answer(answer, if_none_match.decode("latin-1") if if_none_match else None)
        note_lookup(container.cache_events, route.path, slots[-1].key, answer, started)
        if container.refresh_ahead is not None:
            container.refresh_ahead.note(route.read, ids, user_id, prepared.variant)
        return raw

    @staticmethod
    def _served(
        cache: CacheManager, read: CachedRead, found: list[Found] | None
    ) -> list[Result] | None:
        """Every entry a hit; for an unpaginated read that may be served stale, its entry
        may be STALE (within the bound)."""
        if found is None:
            return None
        served = cache.all_hits(found)
        if served is None and read.serve_stale and not read.paginated:
            return cache.hits_then_stale(found)
        return served

    def _prepare(
        self,
        container: Container,
        scope: Scope,
        matched: tuple[Route, dict[str, uuid.UUID]],
        user_id: uuid.UUID,
    ) -> Prepared | None:
        """The lookup of this path, page and caller (None: a page FastAPI reads otherwise)."""
        if container is not self._prepared_for:
            self._prepared.clear()
            self._prepared_for = container
        made = (scope["path"], scope["query_string"], user_id)
        prepared = self._prepared.get(made)
        if prepared is not None:
            return prepared
        route, ids = matched
        variant = variant_of(route.read, scope, container.settings)
        prepared = None
        if variant is not None and container.cache is not None:
            slots = slots_of(route.read, ids, user_id, variant)
            lookup = container.cache.store.lookup_of(slots)
            prepared = Prepared(route, ids, variant, slots, lookup)
            if len(made[0]) + len(made[1]) <= LONGEST_REMEMBERED:
                _remember(self._prepared, made, prepared)
        return prepared

    def _match(self, path: str) -> tuple[Route, dict[str, uuid.UUID]] | None:
        matched = self._matched.get(path)
        if matched is not None:
            return matched
        for route in self._routes:
            found = route.regex.match(path)
            if found is None:
                continue
            values = found.groupdict()
            if all(CANONICAL_UUID.match(v) for v in values.values()):
                matched = route, {name: uuid.UUID(v) for name, v in values.items()}
                if len(path) <= LONGEST_REMEMBERED:
                    _remember(self._matched, path, matched)
            break
        return matched


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= REMEMBERED:
        memo.clear()
    memo[key] = value


def _declared_routes(routes: Iterable[BaseRoute]) -> list[Route]:
    return [
        Route(r.path, r.path_regex, read)
        for r in routes
        if isinstance(r, APIRoute) and "GET" in (r.methods or ()) and (read := declared(r.endpoint))
    ]
