"""Reading `deploy/compose.yaml` as Compose does: YAML (anchors and merge keys included), then
`${VAR}` interpolation from an environment, with Compose's defaults and required markers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"

# `$$` (a literal dollar), `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`,
# `${NAME?error}`, `${NAME:+alternative}`, `${NAME+alternative}`, or `$NAME`.
VARIABLE = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(KeyError):
    """A `${NAME:?...}` variable that the environment does not set."""


def load_raw(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def _substitute(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if empty or value is None else value
        if op in (":?", "?"):
            if empty or value is None:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op in (":+", "+"):
            return "" if empty or value is None else arg
        return value or ""

    return VARIABLE.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def variables(node: Any) -> dict[str, str | None]:
    """Every variable the file interpolates, with its operator (None for a plain `${NAME}`)."""
    found: dict[str, str | None] = {}
    if isinstance(node, str):
        for match in VARIABLE.finditer(node):
            name = match.group("braced") or match.group("bare")
            if name:
                found[name] = match.group("op")
    elif isinstance(node, list | dict):
        for item in node.values() if isinstance(node, dict) else node:
            found.update(variables(item))
    return found


def env_example() -> tuple[dict[str, str], set[str]]:
    """`deploy/.env.example`: the variables it sets, and those it mentions in comments."""
    assigned: dict[str, str] = {}
    mentioned: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", stripped):
            assigned[match.group(1)] = match.group(2)
        elif match := re.match(r"^#\s*([A-Z][A-Z0-9_]*)=", stripped):
            mentioned.add(match.group(1))
    return assigned, mentioned


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def built_services(compose: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository (`build:`), by name."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def dockerfile_of(service: Mapping[str, Any]) -> Path:
    build = service["build"]
    context = COMPOSE_FILE.parent / (build if isinstance(build, str) else build["context"])
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    return (context / dockerfile).resolve()


@dataclass(frozen=True)
class Published:
    """One `ports:` entry: the host address ("" for every interface), the host port or range
    ("" for an ephemeral one) and the container's port."""

    host_ip: str
    host_ports: str
    container_port: int


def published(entry: str | int | Mapping[str, Any]) -> Published:
    """`[[HOST_IP:]HOST_PORTS:]CONTAINER_PORT[/PROTOCOL]`, or the long syntax's mapping."""
    if isinstance(entry, Mapping):
        host_ip, host_ports = entry.get("host_ip", ""), entry.get("published", "")
        return Published(str(host_ip), str(host_ports), int(entry["target"]))
    host, _, container = str(entry).split("/")[0].rpartition(":")
    host_ip, _, host_ports = host.rpartition(":")
    return Published(host_ip.strip("[]"), host_ports, int(container))
