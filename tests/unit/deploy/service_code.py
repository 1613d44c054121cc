"""What a service's code really reads: the settings classes its package uses, and from them
the environment variables (pydantic-settings: `env_prefix` + field name, or the field's
validation alias, case-insensitive)."""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

TELEMETRY_PACKAGE = "collabcache_shared.telemetry"
# Subpackages that cannot be imported outside their tool: Alembic's environment runs the
# migrations when imported (its settings are DatabaseSettings, which the CLI reads too).
NOT_IMPORTABLE = ("migrations",)

# Variables a service may be given although no settings class reads them, each with the reason.
# They apply only to a service that sets up telemetry (it uses collabcache_shared.telemetry).
READ_BY_OPENTELEMETRY = {
    r"OTEL_EXPORTER_OTLP_(TRACES_)?(HEADERS|TIMEOUT|COMPRESSION)": (
        "read by the OTLP span exporter itself (collabcache_shared.telemetry only passes it the "
        "endpoint)"
    ),
    r"OTEL_BSP_[A-Z_]+": "read by the SDK's BatchSpanProcessor (queue size, delays, timeouts)",
    r"OTEL_RESOURCE_ATTRIBUTES": "read by the SDK's Resource (e.g. deployment.environment=...)",
}


@dataclass(frozen=True)
class ServiceCode:
    package: str
    settings: frozenset[type[BaseSettings]]
    uses_telemetry: bool

    def reads(self) -> set[str]:
        return {name for cls in self.settings for name in env_names(cls)}

    def may_be_given(self, variable: str) -> bool:
        if variable.upper() in self.reads():
            return True
        return self.uses_telemetry and any(
            re.fullmatch(pattern, variable) for pattern in READ_BY_OPENTELEMETRY
        )


def env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = cls.model_config.get("env_prefix", "")
    assert not cls.model_config.get("case_sensitive"), f"{cls.__name__} is case-sensitive"
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if choice is None:
                names.add(f"{prefix}{field_name}")
            elif isinstance(choice, AliasPath):
                names.add(str(choice.path[0]))
            else:
                names.add(choice)
    return {name.upper() for name in names}


def _modules(package: str) -> Iterator[ModuleType]:
    root = importlib.import_module(package)
    yield root
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if any(part in NOT_IMPORTABLE for part in info.name.split(".")):
            continue
        yield importlib.import_module(info.name)


def _settings_in(module: ModuleType) -> Iterator[type[BaseSettings]]:
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, BaseSettings)
            and value is not BaseSettings
        ):
            yield value


def service_code(package: str) -> ServiceCode:
    settings: set[type[BaseSettings]] = set()
    uses_telemetry = False
    for module in _modules(package):
        settings.update(_settings_in(module))
        uses_telemetry = uses_telemetry or any(
            getattr(value, "__module__", "").startswith(TELEMETRY_PACKAGE)
            or getattr(value, "__name__", "").startswith(TELEMETRY_PACKAGE)
            for value in vars(module).values()
        )
    if uses_telemetry:
        for module in _modules(TELEMETRY_PACKAGE):
            settings.update(_settings_in(module))
    return ServiceCode(package, frozenset(settings), uses_telemetry)


def all_shared_settings() -> set[type[BaseSettings]]:
    """Every settings class of collabcache_shared (telemetry included when it exists)."""
    found: set[type[BaseSettings]] = set()
    for module in _modules("collabcache_shared"):
        found.update(_settings_in(module))
    return found


@dataclass(frozen=True)
class ProjectScripts:
    """A service's `pyproject.toml`: its distribution name and console scripts."""

    name: str
    scripts: dict[str, str]

    @classmethod
    def of(cls, service_dir: Path) -> ProjectScripts:
        project = tomllib.loads((service_dir / "pyproject.toml").read_text())["project"]
        return cls(project["name"], dict(project.get("scripts", {})))

    def package(self) -> str:
        """The service's import package (the module of its console scripts)."""
        packages = {target.split(":")[0].split(".")[0] for target in self.scripts.values()}
        assert len(packages) == 1, f"{self.name}: scripts in several packages: {packages}"
        return packages.pop()
