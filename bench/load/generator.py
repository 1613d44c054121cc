"""A small asyncio open-loop generator: requests leave at fixed times, whatever the server does.

Why not Locust: a Locust user is a closed loop (it sends its next request when the previous one
has answered) and times each request from its actual send. When the server slows down, the
users slow down with it and the requests that should have been sent meanwhile are never sent nor
timed: coordinated omission, which hides exactly the stalls a cache benchmark must show. Here
request i is due at `start + i / rate`; it is sent then (a task of its own, however many are
in flight) and its latency runs from that scheduled time to the end of its response, so a
stall is charged to every request it delayed, including the time spent waiting to be sent
(over a fixed pool of 64 keep-alive connections, as wrk2 keeps fixed connections).

The client is `bench.load.http_client`: a request's bytes on a keep-alive connection, its answer
parsed by httptools. aiohttp's own path cost more than a cache hit it timed (what the generator
measures alone: bench.open_loop_alone); httpx's pool spent the generator's CPU on its queue
once a slow phase backed it up (docs/benchmarks.md, "Who ate the cores").

Every sampled GET (see `Oracle`) is read again, after its response, from a cache-off API on the
same database; `bench.load.figures` decides which differences are stale reads.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from bench.load import http_client
from bench.load.workload import Call, Mix
from collabcache_api.security import issue_token
from collabcache_shared.settings import AuthSettings

TIMEOUT_S = 10.0
TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)
SENT_ERRORS = (http_client.ClientError, TimeoutError, OSError)  # no answer to an OpenLoop request
COMPUTED_AT = frozenset({"generated_at"})  # differs on every computation: not compared
TOKEN_HOURS = 6  # outlives a variant's full profile (50 minutes of load)
# A fixed pool, as wrk2 keeps fixed connections: a request due while all are busy waits for one
# (that wait is in its latency). Unbounded, a slow phase opens connection after connection and
# the client's and server's cost of opening them becomes the bottleneck being measured.
CONNECTIONS = 64


def client(base_url: str) -> http_client.Client:
    """Keep-alive connections to `base_url`, at most `CONNECTIONS`; a request waits for one."""
    return http_client.Client(base_url, CONNECTIONS, TIMEOUT_S)


def session(base_url: str) -> aiohttp.ClientSession:
    """`client`'s limits in aiohttp, for the benches that drive the API in a closed loop."""
    return aiohttp.ClientSession(
        base_url,
        connector=aiohttp.TCPConnector(limit=CONNECTIONS, limit_per_host=CONNECTIONS),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
        skip_auto_headers=("User-Agent",),
    )


@dataclass(slots=True)
class Sample:
    endpoint: str
    writes: bool
    offset_s: float  # scheduled send, seconds from the phase start
    latency_ms: float  # scheduled send -> response read
    status: int  # 0: no response (transport error or timeout)
    cache: str | None  # X-Cache / X-FastAPI-Cache
    queries: int | None  # X-Bench-Queries
    reads: int | None  # X-Bench-Reads
    sent: float  # loop time the request actually left
    done: float
    path: str = ""
    oracle: str | None = None  # "same" | "differs" | None when not sampled
    oracle_done: float | None = None
    age_s: int | None = None
    worker: int | None = None  # X-Bench-Worker: the API process that answered
    background_reads: int | None = None  # X-Bench-Background-Reads: that process's total


def _int_header(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


class Tokens:
    def __init__(self) -> None:
        self.minted: dict[uuid.UUID, str] = {}

    def header(self, user: uuid.UUID) -> dict[str, str]:
        token = self.minted.get(user)
        if token is None:
            ttl = timedelta(hours=TOKEN_HOURS)
            token = self.minted[user] = issue_token(user, AuthSettings(), ttl)
        return {"Authorization": f"Bearer {token}"}


def _data(document: Any) -> Any:
    """The document without its computation timestamps (`generated_at`: when, not what)."""
    if isinstance(document, dict):
        return {k: _data(v) for k, v in document.items() if k not in COMPUTED_AT}
    if isinstance(document, list):
        return [_data(item) for item in document]
    return document


class Oracle:
    """Re-reads a share of the GETs from a cache-off API and says whether the bodies agree."""

    def __init__(self, base_url: str, share: float, seed: int = 11) -> None:
        self.client = client(base_url)
        self.share = share
        self.rng = random.Random(seed)

    def wants(self, call: Call, status: int) -> bool:
        return not call.writes and status == 200 and self.rng.random() < self.share

    async def agrees(self, call: Call, headers: dict[str, str], body: bytes) -> bool:
        truth = await self.client.request("GET", call.path, headers)
        return truth.status == 200 and _data(json.loads(truth.body)) == _data(json.loads(body))

    async def aclose(self) -> None:
        await self.client.aclose()


class OpenLoop:
    def __init__(
        self, base_url: str, cache_header: str, tokens: Tokens, oracle: Oracle | None
    ) -> None:
        self.client = client(base_url)
        self.cache_header = cache_header
        self.tokens = tokens
        self.oracle = oracle

    async def run(self, mix: Mix, rate: float, seconds: float) -> list[Sample]:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        tasks = []
        for i in range(max(1, round(rate * seconds))):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._send(mix.next(), due, start)))
        return list(await asyncio.gather(*tasks))

    async def run_while(
        self, mix: Mix, rate: float, at_least_s: float, busy: asyncio.Future[Any]
    ) -> list[Sample]:
        """The open loop at `rate` for at least `at_least_s`, and on until `busy` is done: in
        one-second rounds, each started on schedule (never waiting for the previous round's
        answers); offsets count from the first round's start."""
        clock = asyncio.get_running_loop()
        started = clock.time()
        rounds: list[tuple[float, asyncio.Task[list[Sample]]]] = []
        while clock.time() - started < at_least_s or not busy.done():
            rounds.append((clock.time() - started, asyncio.create_task(self.run(mix, rate, 1.0))))
            await asyncio.sleep(max(0.0, started + len(rounds) - clock.time()))
        samples = []
        for offset, task in rounds:
            for sample in await task:
                sample.offset_s += offset
                samples.append(sample)
        return samples

    async def _send(self, call: Call, due: float, start: float) -> Sample:
        loop = asyncio.get_running_loop()
        headers = self.tokens.header(call.user)
        sent = loop.time()
        try:
            response = await self.client.request(call.method, call.path, headers, call.body)
        except SENT_ERRORS:
            done = loop.time()
            return Sample(call.endpoint, call.writes, due - start, (done - due) * 1000, 0,
                          None, None, None, sent, done, call.path)  # fmt: skip
        done = loop.time()
        queries = response.headers.get("x-bench-queries")
        reads = response.headers.get("x-bench-reads")
        age = response.headers.get("age")
        sample = Sample(
            call.endpoint,
            call.writes,
            due - start,
            (done - due) * 1000,
            response.status,
            response.headers.get(self.cache_header),
            int(queries) if queries is not None else None,
            int(reads) if reads is not None else None,
            sent,
            done,
            call.path,
            age_s=int(age) if age and age.isdigit() else None,
            worker=_int_header(response.headers.get("x-bench-worker")),
            background_reads=_int_header(response.headers.get("x-bench-background-reads")),
        )
        if self.oracle is not None and self.oracle.wants(call, response.status):
            try:
                same = await self.oracle.agrees(call, headers, response.body)
            except SENT_ERRORS:
                return sample
            sample.oracle = "same" if same else "differs"
            sample.oracle_done = loop.time()
        return sample

    async def aclose(self) -> None:
        await self.client.aclose()
