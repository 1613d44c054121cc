"""deploy/k8s's traffic and availability rules, read from the rendered objects: only the API
takes traffic from outside, each workload reaches only what it needs, the autoscaler and the
disruption budgets hold the pods they are meant for (README, "Running on Kubernetes")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deploy.kustomize import (
    ENVIRONMENTS,
    OVERLAYS,
    Resource,
    Workload,
    environment,
    named,
    of_kind,
    render,
    selects,
    workloads,
)

# What each workload may reach: DNS, and the backends its code connects to.
EGRESS = {
    "api": {"dns", "redis", "postgres", "collector"},
    "invalidator": {"dns", "redis", "collector"},
    "metrics": {"dns", "redis", "collector"},
    "migrate": {"dns", "postgres"},
}
DESTINATION_OF_PORT = {53: "dns", 6379: "redis", 5432: "postgres", 4318: "collector"}
# Managed outside the cluster: reached by address. The others are cluster Services.
EXTERNAL = {"redis", "postgres"}
# Who may scrape the workers; the API alone takes traffic from anywhere.
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}
DISRUPTION_BUDGETS = {"api", "invalidator"}


def _policies_of(workload: Workload, resources: list[Resource], direction: str) -> list[Any]:
    """The rules of every policy that selects the workload's pods for `direction`."""
    rules: list[Any] = []
    for policy in of_kind(resources, "NetworkPolicy"):
        spec = policy["spec"]
        if direction in spec["policyTypes"] and selects(spec["podSelector"], workload.labels):
            rules += spec.get(direction.lower(), [])
    return rules


@pytest.fixture(params=ENVIRONMENTS)
def resources(request: pytest.FixtureRequest) -> list[Resource]:
    return render(OVERLAYS / request.param)


def test_everything_is_denied_unless_allowed(resources: list[Resource]) -> None:
    deny = named(resources, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_each_workload_reaches_only_its_backends(resources: list[Resource]) -> None:
    reached = {}
    for workload in workloads(resources):
        destinations = set()
        for rule in _policies_of(workload, resources, "Egress"):
            assert rule.get("to") and rule.get("ports"), f"{workload.name}: {rule}"
            names = {DESTINATION_OF_PORT[port["port"]] for port in rule["ports"]}
            for peer in rule["to"]:
                external = set(peer) == {"ipBlock"} and "except" not in peer["ipBlock"]
                in_cluster = set(peer) == {"namespaceSelector", "podSelector"}
                assert external if names <= EXTERNAL else in_cluster, f"{workload.name}: {peer}"
            destinations |= names
        reached[workload.name] = destinations
    assert reached == EGRESS


def test_only_the_api_takes_traffic_from_outside(resources: list[Resource]) -> None:
    open_to_all = set()
    for workload in workloads(resources):
        for rule in _policies_of(workload, resources, "Ingress"):
            ports = {workload.port(port["port"]) for port in rule["ports"]}
            assert ports == {workload.port("http")}, workload.name
            if not rule.get("from"):
                open_to_all.add(workload.name)
                continue
            for peer in rule["from"]:
                assert peer == {"namespaceSelector": {"matchLabels": MONITORING}}, peer
    assert open_to_all == {"api"}
    assert _policies_of(_workload(resources, "migrate"), resources, "Ingress") == []
    (ingress,) = of_kind(resources, "Ingress")
    allowed = str(environment(_workload(resources, "api"), resources)["ALLOWED_HOSTS"])
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in allowed.split(","), rule["host"]
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"] == {"name": "api", "port": {"name": "http"}}
    exposed = {s["metadata"]["name"] for s in of_kind(resources, "Service")}
    assert all(
        s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in of_kind(resources, "Service")
    ), "the API is reached through its Ingress; nothing gets a node port or load balancer"
    assert exposed == {"api", "invalidator", "metrics"}


def _workload(resources: list[Resource], name: str) -> Workload:
    (found,) = [w for w in workloads(resources) if w.name == name]
    return found


def test_the_autoscaler_scales_the_api_on_cpu(resources: list[Resource]) -> None:
    (hpa,) = of_kind(resources, "HorizontalPodAutoscaler")
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
    (metric,) = spec["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    resources_of_api = _workload(resources, "api").container["resources"]
    assert "cpu" in resources_of_api["requests"], "utilization is measured against the request"


def test_disruption_budgets_hold_one_service_each(resources: list[Resource]) -> None:
    budgets = {}
    for pdb in of_kind(resources, "PodDisruptionBudget"):
        held = [w.name for w in workloads(resources) if selects(pdb["spec"]["selector"], w.labels)]
        assert len(held) == 1, pdb["metadata"]["name"]
        assert pdb["spec"]["maxUnavailable"] == 1
        budgets[held[0]] = pdb
    assert set(budgets) == DISRUPTION_BUDGETS


def test_production_keeps_two_of_each_budgeted_service() -> None:
    """With one pod, a budget allowing one down would let a drain stop the service."""
    resources = render(OVERLAYS / "prod")
    (hpa,) = of_kind(resources, "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] >= 2
    assert _workload(resources, "invalidator").resource["spec"]["replicas"] >= 2
