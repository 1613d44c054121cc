"""deploy/k8s as Kubernetes reads it: every overlay renders (kubectl's kustomize) to objects
valid against the API schemas, each team's part holds only its own objects and its own image
tag and replica count, and secrets are only ever referenced (README, "Running on Kubernetes").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy.compose_file import ROOT
from tests.unit.deploy.kustomize import (
    ENVIRONMENTS,
    K8S,
    NAME_LABEL,
    OVERLAYS,
    PARTS,
    SERVICES,
    SecretRef,
    environment,
    kustomizations,
    of_kind,
    overlay_dirs,
    render,
    workloads,
)
from tests.unit.deploy.test_compose import SECRET_NAME

# The oldest Kubernetes the manifests need (the preStop `sleep` action is on by default from
# 1.30), and the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
# Connection URLs carry credentials: they come from Secrets like the secrets themselves.
SECRET_VARIABLES = {"DATABASE_URL", "REDIS_URL"}
# Where each image's tag is set in an environment, relative to overlays/<env>: the API's in the
# release component that both the API and its migration Job use.
IMAGE_SET_IN = {
    "collabcache-api": "api-release",
    "collabcache-invalidator": "invalidator",
    "collabcache-metrics": "metrics",
}


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("overlay", overlay_dirs(), ids=_relative)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_overlay_renders_valid_kubernetes_objects(overlay: Path, version: str) -> None:
    resources = render(overlay)
    assert resources
    errors = []
    for resource in resources:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(part) for part in error.path)
            errors.append(f"{resource['kind']}/{resource['metadata']['name']} {path}: {error}")
    assert errors == []


def test_the_validator_refuses_an_invalid_object() -> None:
    """The check above can fail: a misspelt field is refused by the strict schemas."""
    (deployment,) = of_kind(render(OVERLAYS / "prod" / "api"), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = (
        "/ready"
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def _identities(resources: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["kind"], r["metadata"]["name"], r["metadata"]["namespace"]) for r in resources]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_part_renders_only_its_own_objects(env: str) -> None:
    """`kubectl apply -k overlays/<env>/<service>` touches that service's objects and nothing
    else; the parts together are the whole environment, with no object in two of them."""
    whole = _identities(render(OVERLAYS / env))
    parts: list[tuple[str, str, str]] = []
    for part in PARTS:
        resources = render(OVERLAYS / env / part)
        owners = {r["metadata"].get("labels", {}).get(NAME_LABEL) for r in resources}
        assert owners == ({None} if part == "shared" else {part}), part
        assert {r["metadata"]["namespace"] for r in resources} == {_namespace(env)}, part
        parts += _identities(resources)
    assert sorted(parts) == sorted(whole)
    assert len(set(whole)) == len(whole)


def _namespace(env: str) -> str:
    (shared,) = [k for path, k in kustomizations(env) if path.parent.name == "shared"]
    return str(shared["namespace"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_image_tag_and_replica_count_has_one_place(env: str) -> None:
    images: dict[str, list[str]] = {}
    replicas: dict[str, list[str]] = {}
    for path, kustomization in kustomizations(env):
        where = str(path.parent.relative_to(OVERLAYS / env))
        for image in kustomization.get("images", []):
            assert image.get("newTag"), f"{where}: {image}"
            images.setdefault(image["name"], []).append(where)
        for entry in kustomization.get("replicas", []):
            replicas.setdefault(entry["name"], []).append(where)
    assert images == {name: [where] for name, where in IMAGE_SET_IN.items()}
    # The API's count is its autoscaler's (overlays/<env>/api/replicas.yaml).
    assert replicas == {"invalidator": ["invalidator"], "metrics": ["metrics"]}
    for base in (K8S / "base").iterdir():
        for container in _base_containers(base):
            assert ":" not in container["image"], f"{base.name}: the tag is each overlay's"


def _base_containers(base: Path) -> list[dict[str, Any]]:
    found = []
    for manifest in base.glob("*.yaml"):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if isinstance(doc, dict) and doc.get("kind") in ("Deployment", "Job"):
                found += doc["spec"]["template"]["spec"]["containers"]
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_replicas_come_from_their_owner(env: str) -> None:
    """The API's Deployment names no count (an apply would reset the autoscaler's); the
    workers' counts are set; the migration runs exactly the API's image."""
    resources = render(OVERLAYS / env)
    by_name = {w.name: w for w in workloads(resources)}
    assert "replicas" not in by_name["api"].resource["spec"]
    for worker in ("invalidator", "metrics"):
        assert by_name[worker].resource["spec"]["replicas"] >= 1
    assert by_name["migrate"].container["image"] == by_name["api"].container["image"]
    assert set(SERVICES) | {"migrate"} == set(by_name)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_secrets_are_references_only(env: str) -> None:
    """No Secret is rendered or generated; every secret-bearing variable is a secretKeyRef
    (documented in the README's `kubectl create secret` lines); no literal holds a password."""
    resources = render(OVERLAYS / env)
    assert of_kind(resources, "Secret") == []
    for path, kustomization in kustomizations(env):
        assert "secretGenerator" not in kustomization, path
    readme = (ROOT / "README.md").read_text()
    for workload in workloads(resources):
        for name, value in environment(workload, resources).items():
            secret_like = SECRET_NAME.search(name) or name in SECRET_VARIABLES
            if isinstance(value, SecretRef):
                assert secret_like, f"{workload.name}: {name} needs no Secret"
                assert f"{value.name} --from-literal={value.key}=" in readme, value
                continue
            assert not secret_like, f"{workload.name}: {name} is written in the manifest"
            if "://" in value:
                assert urlsplit(value).password is None, f"{workload.name}: {name}"
    for config_map in of_kind(resources, "ConfigMap"):
        for key in config_map.get("data", {}):
            assert not SECRET_NAME.search(key) and key not in SECRET_VARIABLES, key


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_workload_runs_in_production_mode_hardened(env: str) -> None:
    resources = render(OVERLAYS / env)
    for workload in workloads(resources):
        assert environment(workload, resources).get("ENVIRONMENT") == "production"
        pod, container = workload.pod, workload.container
        assert pod["securityContext"]["runAsNonRoot"] is True, workload.name
        assert pod["securityContext"]["runAsUser"] > 0, workload.name
        assert pod["automountServiceAccountToken"] is False, workload.name
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, workload.name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert re.fullmatch(r"\d+m|\d+", str(container["resources"]["requests"]["cpu"]))
        assert set(container["resources"]["limits"]) == {"cpu", "memory"}, workload.name
