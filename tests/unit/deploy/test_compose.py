"""deploy/compose.yaml against the Compose specification and against the code it runs.

No Docker engine: the file is read as Compose reads it (YAML, then interpolation from an
environment made of deploy/.env.example with generated secrets) and each of our services'
environment is given to the settings classes that service really uses.
"""

from __future__ import annotations

import importlib
import importlib.util
import ipaddress
import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from pydantic_settings import BaseSettings

from collabcache_shared.settings import (
    ApiSettings,
    InvalidatorSettings,
    MetricsSettings,
    OutboxSettings,
)
from tests.unit.deploy.compose_file import (
    MissingVariable,
    built_services,
    dockerfile_of,
    env_example,
    environment_of,
    interpolate,
    load_raw,
    published,
    variables,
)
from tests.unit.deploy.service_code import (
    ProjectScripts,
    ServiceCode,
    all_shared_settings,
    env_names,
    service_code,
)

SCHEMA = Path(__file__).with_name("compose-spec.json")
# Where each service's `run()` takes its listening port from (see each package's main.run).
LISTENS_ON: dict[str, tuple[type[BaseSettings], str, str]] = {
    "collabcache_api": (ApiSettings, "api_port", "api_host"),
    "collabcache_invalidator": (InvalidatorSettings, "http_port", "http_host"),
    "collabcache_metrics": (MetricsSettings, "http_port", "http_host"),
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|_AUTH$")
REDIS_SERVICE, POSTGRES_SERVICE, JAEGER_SERVICE = "redis", "postgres", "jaeger"
# The public service: published on every interface. Everything else answers on loopback only.
PUBLIC_SERVICE = "api"
KEEPS_RUNNING = {"always", "unless-stopped", "on-failure"}
HEALTHCHECK_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/(\w+)")
# What the API's shutdown needs beyond its bound on the requests in flight and the relay's stop:
# the rest of the lifespan (the cache events' flush, the clients closed) and the process's exit.
SHUTDOWN_MARGIN_SECONDS = 5


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_raw()


@pytest.fixture(scope="module")
def secrets_env() -> dict[str, str]:
    """deploy/.env as an operator fills it in: every empty value of the example, generated."""
    assigned, _ = env_example()
    return {name: value or secrets.token_hex(32) for name, value in assigned.items()}


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any], secrets_env: dict[str, str]) -> dict[str, Any]:
    document = interpolate(raw, secrets_env)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def code_of(compose: dict[str, Any]) -> dict[str, ServiceCode]:
    """The code each built service runs, found from its Dockerfile's service directory."""
    return {
        name: service_code(ProjectScripts.of(dockerfile_of(svc).parent).package())
        for name, svc in built_services(compose).items()
    }


def long_running(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) != "no"


def test_the_file_is_valid_compose(raw: dict[str, Any], compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert "draft-07" in schema["$schema"]
    validator = jsonschema.Draft7Validator(schema)
    for document in (raw, compose):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == []


def test_secrets_come_only_from_the_env_file(raw: dict[str, Any]) -> None:
    assigned, mentioned = env_example()
    used = variables(raw)
    required = {name for name, op in used.items() if op in (":?", "?")}
    # The example lists exactly the required variables, all empty (nothing to leak, nothing
    # an operator could forget to change); the optional ones are documented in comments.
    assert set(assigned) == required
    assert {name: value for name, value in assigned.items() if value} == {}
    assert set(used) - required <= mentioned
    for name in required:
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw, {other: "x" for other in required if other != name})


def test_no_secret_is_written_in_the_file(raw: dict[str, Any]) -> None:
    """A secret is a required `${NAME:?...}`, or an optional one that is empty unless set
    (`${NAME:-}`: METRICS_TOKEN)."""
    for name, service in raw["services"].items():
        for key, value in environment_of(service).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]+|:-)\}", value), f"{name}: {key}"
            password = urlsplit(value).password if "://" in value else None
            if password is not None:
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+", password), f"{name}: {key}"


def test_every_variable_is_one_its_service_reads(
    compose: dict[str, Any], code_of: dict[str, ServiceCode]
) -> None:
    unread = {
        name: sorted(k for k in environment_of(svc) if not code_of[name].may_be_given(k))
        for name, svc in built_services(compose).items()
    }
    assert {name: keys for name, keys in unread.items() if keys} == {}


def test_the_scan_finds_every_settings_class_of_shared(code_of: dict[str, ServiceCode]) -> None:
    """Each settings class of collabcache_shared (telemetry included) is read by a service of
    the file, itself or through a subclass: the per-service variable check misses none."""
    used = set().union(*(code.settings for code in code_of.values()))
    unused = {
        cls.__name__
        for cls in all_shared_settings()
        if not any(issubclass(user, cls) for user in used)
    }
    assert unused == set()


def test_each_service_configures_cleanly_from_its_environment(
    compose: dict[str, Any],
    code_of: dict[str, ServiceCode],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Every settings class of the service accepts the values (production secrets included),
    and the addresses they make name services of this file."""
    monkeypatch.chdir(tmp_path)  # no stray .env file
    services = compose["services"]
    for name, svc in built_services(compose).items():
        code = code_of[name]
        env = environment_of(svc)
        with monkeypatch.context() as patched:
            for variable in code.reads() - set(env):
                patched.delenv(variable, raising=False)
            for key, value in env.items():
                patched.setenv(key, value)
            configured = [cls() for cls in _settings_used(code, env, long_running(svc))]
        for settings in configured:
            for field in ("dsn", "database_url", "traces_endpoint"):
                url = getattr(settings, field, None)
                if isinstance(url, str):
                    assert urlsplit(url).hostname in services, f"{name}: {field}={url}"
        assert env.get("ENVIRONMENT") == "production", name


def _settings_used(code: ServiceCode, env: dict[str, str], whole_service: bool) -> list[Any]:
    """A long-running service builds every settings class of its package; a one-shot job (the
    CLI) only those it is given variables for (`migrate` reads DatabaseSettings, never the
    AuthSettings that `token` needs, so it gets no JWT_SECRET)."""
    if whole_service:
        return list(code.settings)
    given = set(env) - {"ENVIRONMENT"}
    covers = {cls: env_names(cls) & given for cls in code.settings}
    touched = [cls for cls, covered in covers.items() if covered]
    # The narrowest class for those variables: DatabaseSettings, not ApiSettings (which also
    # reads DATABASE_URL, among the JWT settings).
    return [
        cls
        for cls in touched
        if not any(
            other is not cls and covers[cls] <= covers[other] and issubclass(cls, other)
            for other in touched
        )
    ]


def test_ports_agree_with_the_settings(
    compose: dict[str, Any], code_of: dict[str, ServiceCode], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = 0
    for name, svc in built_services(compose).items():
        if not long_running(svc):
            continue
        cls, port_field, host_field = LISTENS_ON[code_of[name].package]
        with monkeypatch.context() as patched:
            for key, value in environment_of(svc).items():
                patched.setenv(key, value)
            settings = cls()
        port = getattr(settings, port_field)
        assert getattr(settings, host_field) == "0.0.0.0", f"{name} must listen on all interfaces"
        health = HEALTHCHECK_URL.search(" ".join(svc["healthcheck"]["test"]))
        assert health is not None, name
        assert int(health.group(1)) == port, f"{name}: healthcheck port"
        for entry in svc.get("ports", []):
            assert published(entry).container_port == port, name
        for exposed in svc.get("expose", []):
            assert int(exposed) == port, name
        assert "ports" in svc or "expose" in svc, name
        checked += 1
    assert checked == 3


def test_the_api_stops_within_its_grace_period(
    compose: dict[str, Any], code_of: dict[str, ServiceCode], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose's SIGKILL comes after the API's bound on requests in flight and its lifespan's
    stop (the outbox relay's, then the rest)."""
    api = compose["services"][PUBLIC_SERVICE]
    env = environment_of(api)
    for variable in code_of[PUBLIC_SERVICE].reads() - set(env):
        monkeypatch.delenv(variable, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    graceful = ApiSettings().api_graceful_shutdown_seconds
    needed = graceful + OutboxSettings().publish_timeout_seconds + SHUTDOWN_MARGIN_SECONDS
    assert needed <= int(api["stop_grace_period"].removesuffix("s"))


def test_commands_run_real_code(compose: dict[str, Any], code_of: dict[str, ServiceCode]) -> None:
    for name, svc in built_services(compose).items():
        entrypoint, command = svc.get("entrypoint"), svc.get("command")
        if entrypoint is None:
            assert command is None, f"{name}: the image's entrypoint takes no command"
            continue  # the Dockerfile's ENTRYPOINT: see test_dockerfiles
        assert entrypoint[:2] == ["python", "-m"], name
        module_name = entrypoint[2]
        assert module_name.split(".")[0] == code_of[name].package, name
        assert importlib.util.find_spec(module_name) is not None, f"{name}: {module_name}"
        parser = importlib.import_module(module_name).build_parser()
        parser.parse_args(command)  # exits (SystemExit) on an unknown subcommand or flag


def test_startup_order_health_and_restarts(
    compose: dict[str, Any], code_of: dict[str, ServiceCode]
) -> None:
    services = compose["services"]
    for name, svc in services.items():
        for dependency, condition in svc.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} -> {dependency}"
            if condition["condition"] == "service_completed_successfully":
                assert services[dependency]["restart"] == "no", f"{name} -> {dependency}"
    for name, svc in built_services(compose).items():
        reads, needs = code_of[name].reads(), svc.get("depends_on", {})
        if "DATABASE_URL" in reads and "DATABASE_URL" in environment_of(svc):
            assert needs[POSTGRES_SERVICE]["condition"] == "service_healthy", name
        if long_running(svc):
            assert svc["restart"] in KEEPS_RUNNING, name
            assert "healthcheck" in svc, name
            if "REDIS_HOST" in environment_of(svc):
                assert needs[REDIS_SERVICE]["condition"] == "service_healthy", name
            if "DATABASE_URL" in environment_of(svc):
                assert needs["migrate"]["condition"] == "service_completed_successfully", name
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    for infrastructure in (REDIS_SERVICE, POSTGRES_SERVICE, JAEGER_SERVICE):
        assert services[infrastructure]["restart"] in KEEPS_RUNNING
        assert "healthcheck" in services[infrastructure]


def test_replicas_and_their_published_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["invalidator"]["deploy"]["replicas"] == 2
    for name, svc in services.items():
        replicas = int(svc.get("deploy", {}).get("replicas", 1))
        assert replicas == 1 or "container_name" not in svc, name
        for entry in svc.get("ports", []):
            first, _, last = published(entry).host_ports.partition("-")
            assert int(last or first) - int(first) + 1 >= replicas, f"{name}: {entry}"


def test_only_the_api_is_published_on_every_interface(
    raw: dict[str, Any], compose: dict[str, Any], secrets_env: dict[str, str]
) -> None:
    """The metrics service and Jaeger (its UI, OTLP) are bound to the host's loopback by
    default; METRICS_BIND moves the metrics port (README, "Security")."""
    checked = set()
    for name, svc in compose["services"].items():
        for entry in svc.get("ports", []):
            host_ip = published(entry).host_ip
            if name == PUBLIC_SERVICE:
                assert host_ip == "", f"{name}: {entry}"
            else:
                assert host_ip and ipaddress.ip_address(host_ip).is_loopback, f"{name}: {entry}"
                checked.add(name)
    assert checked == {"metrics", JAEGER_SERVICE}
    moved = interpolate(raw, {**secrets_env, "METRICS_BIND": "0.0.0.0"})["services"]["metrics"]
    assert [published(entry).host_ip for entry in moved["ports"]] == ["0.0.0.0"]


def test_redis_requires_the_password_and_evicts_only_cache_entries(
    raw: dict[str, Any], compose: dict[str, Any]
) -> None:
    command = compose["services"][REDIS_SERVICE]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=False))
    # Cache entries carry a TTL; streams and generation counters do not (see the comment in
    # the compose file): only a volatile-* policy leaves the latter alone.
    assert options["--maxmemory-policy"].startswith("volatile-")
    assert options["--maxmemory"]
    raw_command = raw["services"][REDIS_SERVICE]["command"]
    password_variable = variables(raw_command[raw_command.index("--requirepass") + 1])
    for name, svc in built_services(raw).items():
        env = environment_of(svc)
        if "REDIS_HOST" in env:
            assert variables(env["REDIS_PASSWORD"]).keys() == password_variable.keys(), name


def test_traces_go_to_jaeger(compose: dict[str, Any]) -> None:
    jaeger = compose["services"][JAEGER_SERVICE]
    published = {str(p).rsplit(":", 1)[-1] for p in jaeger["ports"]}
    assert {"4318", "16686"} <= published  # OTLP over HTTP, the UI
    for name, svc in built_services(compose).items():
        if long_running(svc):
            endpoint = urlsplit(environment_of(svc)["OTEL_EXPORTER_OTLP_ENDPOINT"])
            assert (endpoint.hostname, endpoint.port) == (JAEGER_SERVICE, 4318), name
