"""deploy/k8s against the code it runs, as tests/unit/deploy/test_compose.py checks compose:
every variable is one the service reads and configures it in production, ports and probes
are the settings' and the routes', commands exist, shutdown fits in the grace period, worker
consumer names come from the pod name."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from collabcache_shared.settings import ApiSettings, DatabaseSettings, OutboxSettings
from collabcache_shared.streams.names import unique_consumer_name
from collabcache_shared.telemetry.settings import TelemetrySettings
from tests.unit.deploy.compose_file import ROOT
from tests.unit.deploy.kustomize import (
    ENVIRONMENTS,
    OVERLAYS,
    SecretRef,
    Workload,
    environment,
    named,
    of_kind,
    render,
    selects,
    workloads,
)
from tests.unit.deploy.service_code import ProjectScripts, ServiceCode, service_code
from tests.unit.deploy.test_compose import LISTENS_ON, SHUTDOWN_MARGIN_SECONDS, _settings_used

# What each service answers its probes with (README, "Running on Kubernetes").
PROBE_PATHS = {"startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}
# Paths each service serves without the checks the rest of it gets: the API's Host check, the
# metrics service's bearer token. A probe (Host: the pod's IP, no token) must be one of them.
PROBES_PASS = {
    "api": ("collabcache_api.guards", "PROBES"),
    "metrics": ("collabcache_metrics.auth", "OPEN_PATHS"),
}
# Values for the Secrets the platform creates (README, "Running on Kubernetes").
SECRET_VALUES = {
    "DATABASE_URL": "postgresql://collabcache:{secret}@postgres.example:5432/collabcache",
    "REDIS_URL": "rediss://collabcache:{secret}@redis.example:6379/0",
}


def _code(service: str) -> ServiceCode:
    return service_code(ProjectScripts.of(ROOT / "services" / service).package())


def _all_workloads() -> Iterator[tuple[str, Workload, list[dict[str, Any]]]]:
    for env in ENVIRONMENTS:
        resources = render(OVERLAYS / env)
        for workload in workloads(resources):
            yield env, workload, resources


def _given(workload: Workload, resources: list[dict[str, Any]]) -> dict[str, str]:
    """The variables as the container sees them once the Secrets exist."""
    given = {}
    for name, value in environment(workload, resources).items():
        if isinstance(value, SecretRef):
            value = SECRET_VALUES.get(name, "{secret}").format(secret=secrets.token_hex(32))
        given[name] = value
    return given


@contextmanager
def _environment_of(
    code: ServiceCode, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    with monkeypatch.context() as patched:
        for variable in code.reads() - set(env):
            patched.delenv(variable, raising=False)
        for key, value in env.items():
            patched.setenv(key, value)
        yield


def test_every_variable_is_one_its_service_reads() -> None:
    unread = {
        f"{env}/{w.name}": sorted(
            k for k in environment(w, res) if not _code(w.service).may_be_given(k)
        )
        for env, w, res in _all_workloads()
    }
    assert {where: keys for where, keys in unread.items() if keys} == {}


def test_each_workload_configures_cleanly_in_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every settings class the workload builds accepts what it is given, production checks
    included (JWT_SECRET, ALLOWED_HOSTS), and traces go to the collector the network policy
    lets it reach."""
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for env, workload, resources in _all_workloads():
        code, given = _code(workload.service), _given(workload, resources)
        with _environment_of(code, given, monkeypatch):
            configured = [cls() for cls in _settings_used(code, given, workload.long_running())]
            if workload.service == "api" and workload.long_running():
                assert ApiSettings().served_hosts  # production refuses to run without them
            telemetry = TelemetrySettings()
        assert configured, f"{env}/{workload.name}"
        if workload.long_running():
            collector = named(resources, "NetworkPolicy", "allow-egress-collector")
            assert selects(collector["spec"]["podSelector"], workload.labels), workload.name
            (rule,) = collector["spec"]["egress"]
            (peer,) = rule["to"]
            url = urlsplit(telemetry.traces_endpoint or "")
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            assert url.hostname and url.hostname.split(".")[1] == namespace, url
            assert [p["port"] for p in rule["ports"]] == [url.port]


def test_ports_and_probes_agree_with_the_settings_and_routes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for env, workload, resources in _all_workloads():
        if not workload.long_running():
            continue
        code, container = _code(workload.service), workload.container
        cls, port_field, host_field = LISTENS_ON[code.package]
        with _environment_of(code, _given(workload, resources), monkeypatch):
            settings = cls()
        assert getattr(settings, host_field) == "0.0.0.0", workload.name
        assert [p["containerPort"] for p in container["ports"]] == [getattr(settings, port_field)]
        served = _served_paths(code.package)
        for probe, path in PROBE_PATHS.items():
            check = container[probe]["httpGet"]
            assert check["path"] == path and path in served, f"{workload.name}: {probe}"
            assert workload.port(check["port"]) == getattr(settings, port_field)
        if workload.service in PROBES_PASS:
            module, name = PROBES_PASS[workload.service]
            assert set(PROBE_PATHS.values()) <= getattr(importlib.import_module(module), name)
        _check_services_reach(workload, resources, env)


@functools.cache
def _served_paths(package: str) -> frozenset[str]:
    """The paths the service's application routes (built, nothing connected): FastAPI's
    routes (included routers have no single path), or an AsgiFastStream's `(path, handler)`
    pairs."""
    app = importlib.import_module(f"{package}.main").create_app()
    return frozenset(r[0] if isinstance(r, tuple) else getattr(r, "path", "") for r in app.routes)


def _check_services_reach(workload: Workload, resources: list[dict[str, Any]], env: str) -> None:
    for service in of_kind(resources, "Service"):
        if not selects({"matchLabels": service["spec"]["selector"]}, workload.labels):
            continue
        for port in service["spec"]["ports"]:
            assert workload.port(port["targetPort"]), f"{env}/{service['metadata']['name']}"
        scrape = service["metadata"].get("annotations", {})
        if scrape.get("prometheus.io/scrape") == "true":
            assert int(scrape["prometheus.io/port"]) == workload.port("http")
            assert scrape["prometheus.io/path"] in _served_paths(_code(workload.service).package)


def test_commands_run_real_code() -> None:
    """No command: the image's entrypoint, its service's console script (test_dockerfiles).
    A command: a module of the image's service, whose parser takes the arguments."""
    for _, workload, _ in _all_workloads():
        container = workload.container
        assert (ROOT / "services" / workload.service / "Dockerfile").exists()
        if "command" not in container:
            assert "args" not in container, workload.name
            continue
        command, args = container["command"], container.get("args", [])
        assert command[:2] == ["python", "-m"], workload.name
        module_name = command[2]
        assert module_name.split(".")[0] == _code(workload.service).package, workload.name
        assert importlib.util.find_spec(module_name) is not None, module_name
        importlib.import_module(module_name).build_parser().parse_args(args)


def test_the_api_drains_within_its_grace_period(monkeypatch: pytest.MonkeyPatch) -> None:
    """preStop keeps the pod serving while it leaves the endpoints; then uvicorn lets the
    requests in flight finish for at most API_GRACEFUL_SHUTDOWN_SECONDS and the lifespan stops
    the relay (OUTBOX_PUBLISH_TIMEOUT_SECONDS) and flushes the cache events, all before the
    kubelet's SIGKILL."""
    checked = 0
    for _, workload, resources in _all_workloads():
        if workload.name != "api":
            continue
        with _environment_of(_code("api"), _given(workload, resources), monkeypatch):
            graceful = ApiSettings().api_graceful_shutdown_seconds
            relay = OutboxSettings().publish_timeout_seconds
            statement = DatabaseSettings().db_statement_timeout_ms / 1000
        pre_stop = workload.container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pre_stop >= 5
        assert graceful > statement, "the bound would cut short a request's longest statement"
        needed = pre_stop + graceful + relay + SHUTDOWN_MARGIN_SECONDS
        assert needed <= workload.pod["terminationGracePeriodSeconds"], workload
        checked += 1
    assert checked == len(ENVIRONMENTS)


@pytest.mark.parametrize("service", ["invalidator", "metrics"])
def test_workers_leave_their_groups_cleanly(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's consumer name starts with the host name, which is the pod's name (nothing in
    the pod spec changes it), and the grace period outlasts the broker's own."""
    package = _code(service).package
    monkeypatch.setattr(socket, "gethostname", lambda: f"{service}-7c9d8-x2x4q")
    assert unique_consumer_name().startswith(f"{service}-7c9d8-x2x4q-")  # what both services use
    monkeypatch.undo()
    built = importlib.import_module(f"{package}.bootstrap").build()
    graceful = built.broker.config.graceful_timeout
    for _, workload, _ in _all_workloads():
        if workload.name != service:
            continue
        pod = workload.pod
        assert not {"hostname", "subdomain", "setHostnameAsFQDN"} & set(pod), service
        assert not pod.get("hostNetwork"), service
        assert pod["terminationGracePeriodSeconds"] >= 2 * graceful + 5
