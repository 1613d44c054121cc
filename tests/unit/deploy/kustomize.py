"""Rendering deploy/k8s as `kubectl apply -k` would, and reading what a workload is given.

The renderer is kubectl's own kustomize (`kubectl kustomize`), the one operators run: a
reimplementation in Python could render differently from it. kubectl is part of this project's
machines (the Google Cloud SDK's apt package `kubectl`); where it is missing, the tests that
need a rendering are skipped, saying so.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.compose_file import ROOT

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = K8S / "overlays"
ENVIRONMENTS = ("dev", "prod")
SERVICES = ("api", "invalidator", "metrics")
# Each environment's parts, applied one at a time by the team that owns each.
PARTS = ("shared", "migrate", *SERVICES)
NAME_LABEL = "app.kubernetes.io/name"
NO_KUBECTL = (
    "kubectl is not on PATH: deploy/k8s is rendered with kubectl's own kustomize (the apt "
    "package `kubectl` of the Google Cloud SDK, or any kubectl with kustomize v5); install it "
    "to run the Kubernetes manifest checks"
)

Resource = dict[str, Any]


def overlay_dirs() -> list[Path]:
    """Every overlay an operator may apply: each environment whole, and each of its parts."""
    return [OVERLAYS / env / part for env in ENVIRONMENTS for part in ("", *PARTS)]


@functools.cache
def _rendered(path: Path) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip(NO_KUBECTL)
    result = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {path}: {result.stderr}"
    return result.stdout


def render(path: Path) -> list[Resource]:
    """The objects `kubectl kustomize <path>` prints (a fresh copy on each call)."""
    return [doc for doc in yaml.safe_load_all(_rendered(path)) if doc]


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def named(resources: list[Resource], kind: str, name: str) -> Resource:
    (found,) = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    return found


def kustomizations(env: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted((OVERLAYS / env).rglob("kustomization.yaml")):
        yield path, yaml.safe_load(path.read_text())


@dataclass(frozen=True)
class Workload:
    """A Deployment's or a Job's pod: its template and its one container."""

    resource: Resource

    @property
    def name(self) -> str:
        return str(self.resource["metadata"]["name"])

    @property
    def pod(self) -> dict[str, Any]:
        return dict(self.resource["spec"]["template"]["spec"])

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.resource["spec"]["template"]["metadata"]["labels"])

    @property
    def container(self) -> dict[str, Any]:
        (container,) = self.pod["containers"]
        return dict(container)

    @property
    def service(self) -> str:
        """The service whose image it runs: `<registry>/collabcache-<service>:<tag>`."""
        repository = str(self.container["image"]).rpartition("/")[2].partition(":")[0]
        assert repository.startswith("collabcache-"), self.container["image"]
        return repository.removeprefix("collabcache-")

    def long_running(self) -> bool:
        return bool(self.resource["kind"] == "Deployment")

    def port(self, name_or_number: str | int) -> int:
        if isinstance(name_or_number, int):
            return name_or_number
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        return int(ports[name_or_number])


def workloads(resources: list[Resource]) -> list[Workload]:
    return [Workload(r) for r in resources if r["kind"] in ("Deployment", "Job")]


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str
    optional: bool


def environment(workload: Workload, resources: list[Resource]) -> dict[str, str | SecretRef]:
    """Every variable the container gets: its ConfigMaps' keys (`envFrom`, resolved against
    the same rendering), then its own `env` (which wins), secrets as references."""
    container = workload.container
    found: dict[str, str | SecretRef] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"{workload.name}: {source}"
        config_map = named(resources, "ConfigMap", source["configMapRef"]["name"])
        found.update(config_map.get("data", {}))
    for entry in container.get("env", []):
        if "value" in entry:
            found[entry["name"]] = str(entry["value"])
            continue
        reference = entry["valueFrom"]
        assert set(reference) == {"secretKeyRef"}, f"{workload.name}: {entry}"
        ref = reference["secretKeyRef"]
        found[entry["name"]] = SecretRef(ref["name"], ref["key"], bool(ref.get("optional")))
    return found


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector (`matchLabels` only: the manifests use no expressions)."""
    assert set(selector) <= {"matchLabels"}, selector
    wanted = selector.get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())
