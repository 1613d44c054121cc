"""services/*/Dockerfile: multi-stage uv builds of one service each, run as a non-root user,
whose entrypoint, port, health check and environment are those of the service's code."""

from __future__ import annotations

import importlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.unit.deploy.compose_file import ROOT
from tests.unit.deploy.service_code import ProjectScripts, ServiceCode, service_code
from tests.unit.deploy.test_compose import LISTENS_ON

SERVICE_DIRS = sorted(path.parent for path in (ROOT / "services").glob("*/Dockerfile"))
# Set by the image for the interpreter and uv, not read by our settings.
TOOL_ENV = re.compile(r"PATH|PYTHON[A-Z_]*|UV_[A-Z_]+")
HEALTHCHECK_PORT = re.compile(r"os\.environ\.get\('([A-Z_]+)', '(\d+)'\)")
ROOT_USERS = {"root", "0", "0:0"}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(dockerfile: Path) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    parsed = []
    for text in logical:
        keyword, _, arguments = text.strip().partition(" ")
        parsed.append(Instruction(keyword.upper(), arguments.strip()))
    return parsed


def final_stage(parsed: list[Instruction]) -> list[Instruction]:
    last_from = max(i for i, ins in enumerate(parsed) if ins.keyword == "FROM")
    return parsed[last_from:]


def env_assignments(arguments: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(arguments))


@pytest.fixture(params=SERVICE_DIRS, ids=lambda path: path.name)
def service_dir(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def parsed_and_code(service_dir: Path) -> tuple[list[Instruction], ProjectScripts, ServiceCode]:
    project = ProjectScripts.of(service_dir)
    return instructions(service_dir / "Dockerfile"), project, service_code(project.package())


def test_every_service_has_a_dockerfile() -> None:
    assert [path.name for path in SERVICE_DIRS] == sorted(
        path.name for path in (ROOT / "services").iterdir() if (path / "pyproject.toml").exists()
    )


def test_multi_stage_uv_build_of_this_service_only(service_dir: Path) -> None:
    parsed, project, _ = parsed_and_code(service_dir)
    stages = [ins.arguments for ins in parsed if ins.keyword == "FROM"]
    assert len(stages) >= 2 and " AS " in stages[0].upper()
    builder = stages[0].split()[-1]
    syncs = [ins.arguments for ins in parsed if ins.keyword == "RUN" and "uv sync" in ins.arguments]
    assert syncs
    for sync in syncs:
        words = shlex.split(sync)
        assert {"--frozen", "--no-dev"} <= set(words), sync
        assert words[words.index("--package") + 1] == project.name, sync
    # Sources: the shared package and this service; of the other members only their
    # pyproject.toml (uv reads the whole workspace's metadata, never their code).
    own = f"services/{service_dir.name}/"
    for ins in parsed:
        if ins.keyword != "COPY" or ins.arguments.startswith("--from="):
            continue
        for source in shlex.split(ins.arguments)[:-1]:
            allowed = source in ("shared/", own) or source.endswith("pyproject.toml")
            assert allowed or source in ("uv.lock", "README.md"), f"{service_dir.name}: {source}"
    final = final_stage(parsed)
    assert any(
        ins.keyword == "COPY" and ins.arguments.startswith(f"--from={builder} ") for ins in final
    ), "the final stage takes the environment built in the builder stage"
    assert not any(ins.keyword == "RUN" and "uv " in ins.arguments for ins in final)


def test_runs_as_a_non_root_user(service_dir: Path) -> None:
    users = [
        ins.arguments
        for ins in final_stage(instructions(service_dir / "Dockerfile"))
        if ins.keyword == "USER"
    ]
    assert users and users[-1] not in ROOT_USERS


def test_the_entrypoint_is_the_services_console_script(service_dir: Path) -> None:
    parsed, project, _ = parsed_and_code(service_dir)
    entrypoints = [ins.arguments for ins in parsed if ins.keyword == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    command = json.loads(entrypoints[0])  # the exec form: a JSON list of strings
    assert isinstance(command, list) and len(command) == 1
    target = project.scripts[command[0]]
    module_name, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module_name), function))


def test_port_health_check_and_environment_match_the_settings(service_dir: Path) -> None:
    parsed, _, code = parsed_and_code(service_dir)
    final = final_stage(parsed)
    settings_class, port_field, host_field = LISTENS_ON[code.package]
    default_port = settings_class.model_fields[port_field].default
    exposed = [int(ins.arguments) for ins in final if ins.keyword == "EXPOSE"]
    assert exposed == [default_port]
    health = " ".join(ins.arguments for ins in final if ins.keyword == "HEALTHCHECK")
    port_variable = HEALTHCHECK_PORT.search(health)
    assert port_variable is not None
    assert port_variable.group(1) in code.reads()
    assert int(port_variable.group(2)) == default_port
    environment: dict[str, str] = {}
    for ins in final:
        if ins.keyword == "ENV":
            environment.update(env_assignments(ins.arguments))
    ours = {name for name in environment if not TOOL_ENV.fullmatch(name)}
    assert ours <= code.reads(), ours - code.reads()
    host_variables = {name for name in ours if name.endswith(host_field.upper())}
    assert host_variables and all(environment[name] == "0.0.0.0" for name in host_variables)


def test_the_image_defaults_to_production(service_dir: Path) -> None:
    """Run outside compose (`docker run` with no ENVIRONMENT), an image must still refuse
    development defaults: the final stage sets ENVIRONMENT=production, which compose and
    `docker run -e` can override."""
    parsed, _, code = parsed_and_code(service_dir)
    environment: dict[str, str] = {}
    for ins in final_stage(parsed):
        if ins.keyword == "ENV":
            environment.update(env_assignments(ins.arguments))
    assert "ENVIRONMENT" in code.reads()
    assert environment.get("ENVIRONMENT") == "production", (
        f"services/{service_dir.name}/Dockerfile: add ENVIRONMENT=production to the final ENV"
    )
