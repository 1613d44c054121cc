"""Spans really leave each service process over OTLP/HTTP, and with no endpoint nothing does.

The three services run as processes from their console scripts (the Dockerfiles' entrypoints),
on the tracing database and a key prefix of the test's own. A small OTLP/HTTP receiver in the
test decodes what they send (`ExportTraceServiceRequest`).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import asyncpg
import httpx
import pytest

from collabcache_shared.settings import ApiSettings
from tests.e2e.dashboard_stack import BIN, SERVICES, Service
from tests.e2e.dashboard_support import free_port
from tests.integration.builders import Builder, Scene
from tests.integration.tracing.receiver import OtlpReceiver, ReceivedSpan

NAMES = {
    "api": "collabcache-api",
    "invalidator": "collabcache-invalidator",
    "metrics": "collabcache-metrics",
}
# Three processes importing their stacks on two shared cores: a minute is not always enough.
READY_WITHIN_S = 120.0
SPANS_WITHIN_S = 20.0
# Any line of an exporter's complaint (see test_tracing_off's control) has one of these.
EXPORT_ERRORS = ("export", "opentelemetry", "traceback")

pytestmark = pytest.mark.timeout(240)


def environment(database_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    """The processes' environment: no OpenTelemetry variable inherited from the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "ENVIRONMENT": "test",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start(names: list[str], env: dict[str, str], stack: ExitStack) -> dict[str, Service]:
    """The named services on free ports, once all of them are ready."""
    ports = {variable: free_port() for _, variable in SERVICES.values()}
    env = {**env, **{variable: str(port) for variable, port in ports.items()}}
    services = {}
    for name in names:
        script, variable = SERVICES[name]
        services[name] = Service(name, [str(BIN / script)], env, ports[variable])
        stack.callback(services[name].stop)
    deadline = time.monotonic() + READY_WITHIN_S
    while not all(s.is_ready() for s in services.values()):
        output = "\n".join(s.output for s in services.values())
        assert time.monotonic() < deadline, f"not ready in time:\n{output}"
        time.sleep(0.2)
    return services


async def write_and_read(api_url: str, scene: Scene) -> None:
    """One write (PATCH), then the same cached GET twice: a miss, then a hit."""
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as http:
        path = f"/api/organizations/{scene.org_id}"
        response = await http.patch(path, json={"name": "Exported"}, headers=scene.owner.headers)
        assert response.status_code == 200, response.text
        for _ in range(2):
            read = await http.get(f"{path}/members", headers=scene.owner.headers)
            assert read.status_code == 200, read.text


async def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture
def builder(tracing_db: asyncpg.Pool, tracing_database_url: str) -> Builder:
    return Builder(tracing_db, ApiSettings(environment="test", database_url=tracing_database_url))


def _write_trace(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    patches = {s.trace_id for s in spans if s.name == "PATCH /api/organizations/{org_id}"}
    return [s for s in spans if s.trace_id in patches]


def _shown(spans: list[ReceivedSpan]) -> str:
    ordered = sorted(spans, key=lambda s: (s.trace_id, s.start))
    return "\n".join(f"{s.trace_id[:8]} {s.service}: {s.name}" for s in ordered)


async def test_each_service_exports_its_spans_over_otlp_http(
    receiver: OtlpReceiver,
    builder: Builder,
    tracing_database_url: str,
    servers: dict[str, str],
    prefix: str,
) -> None:
    scene = await builder.scene()
    env = environment(tracing_database_url, servers["redis"], prefix)
    env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"})
    with ExitStack() as stack:
        services = await asyncio.to_thread(start, list(NAMES), env, stack)
        await write_and_read(services["api"].url, scene)

        def complete() -> bool:
            spans = receiver.received()
            in_write = {s.service for s in _write_trace(spans)}
            return {s.service for s in spans} >= set(NAMES.values()) and in_write >= {
                NAMES["api"],
                NAMES["invalidator"],
            }

        try:
            await eventually(complete, SPANS_WITHIN_S, "spans of every service")
        except AssertionError:
            outputs = "\n".join(s.output for s in services.values())
            raise AssertionError(f"{_shown(receiver.received())}\n{outputs}") from None
        await asyncio.to_thread(stack.close)  # SIGTERM: each process sends what it still holds
        outputs = "\n".join(s.output for s in services.values())

    spans = receiver.received()
    shown = _shown(spans)
    assert {s.service for s in spans} == set(NAMES.values()), shown
    write = _write_trace(spans)
    assert len({s.trace_id for s in write}) == 1, shown
    assert any(s.name.startswith("outbox publish ") for s in write), shown
    assert any(s.service == NAMES["invalidator"] for s in write), shown
    reads = [s for s in spans if s.name == "GET /api/organizations/{org_id}/members"]
    assert sorted(str(s.attributes.get("cache.result")) for s in reads) == ["hit", "miss"], shown
    assert not [line for line in outputs.lower().splitlines() if "failed to export" in line]
    print(f"\n{len(spans)} spans in {receiver.requests} requests; the write's trace:\n")
    print(_shown(write))
    print("\nthe invalidator's and the metrics service's:\n")
    print(_shown([s for s in spans if s.service != NAMES["api"]]))


async def test_without_an_endpoint_nothing_is_traced_and_nothing_complains(
    receiver: OtlpReceiver,
    builder: Builder,
    tracing_database_url: str,
    servers: dict[str, str],
    prefix: str,
) -> None:
    scene = await builder.scene()
    env = environment(tracing_database_url, servers["redis"], prefix)
    with ExitStack() as stack:
        services = await asyncio.to_thread(start, ["api"], env, stack)
        await write_and_read(services["api"].url, scene)
        await asyncio.to_thread(stack.close)
        output = services["api"].output

    records = [json.loads(line) for line in output.splitlines()[1:] if line.startswith("{")]
    starting = [r for r in records if str(r.get("message", "")).startswith("api starting")]
    assert starting and "tracing=off" in starting[0]["message"], output
    complaints = [
        line for line in output.lower().splitlines() if any(e in line for e in EXPORT_ERRORS)
    ]
    assert not complaints, output
    assert receiver.requests == 0
