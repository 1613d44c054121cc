"""Before its first phase, the load benchmark warms every API worker process, not only the
one its first keep-alive connection reached: a worker's first requests (imports, statement
caches, new connections) would otherwise be charged to the cache (docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.load.generator import Tokens
from bench.load.runner import WARM_UP_CALLS, _warm_process
from bench.load.workload import Dataset, RoleToggle
from bench.pipeline_stack import Service
from bench.support import wait_for_http

WORKERS = 2


@dataclass
class FakeRun:
    api: Service
    emptied: bool = False

    async def empty_cache(self) -> None:
        self.emptied = True


def tiny_dataset() -> Dataset:
    user, owner, org, study = (uuid.uuid4() for _ in range(4))
    member = RoleToggle(org, owner, user, ("member", "admin"), "member")
    collaborator = RoleToggle(study, owner, user, ("viewer", "editor"), "viewer")
    return Dataset(
        users=[user, owner],
        orgs_of={user: [org], owner: [org]},
        studies_of={user: [study], owner: [study]},
        teams_of={org: []},
        owned_studies=[(study, owner)],
        member_toggles=[member],
        collaborator_toggles=[collaborator],
    )


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    env = {"WORKER_LOG_DIR": str(tmp_path)}
    api = Service("tests.e2e.worker_pid_app:create_app", env, workers=WORKERS)
    api.launch()
    try:
        asyncio.run(wait_for_http(api.url + "/ready", within=60))
        yield api
    finally:
        api.stop()


def test_every_worker_answers_its_share_of_the_warm_up(service: Service, tmp_path: Path) -> None:
    run = FakeRun(service)
    asyncio.run(_warm_process(run, Tokens(), tiny_dataset()))  # type: ignore[arg-type]
    answered = {
        f.name: [p for p in f.read_text().split() if p != "/ready"] for f in tmp_path.iterdir()
    }
    calls = {pid: len(paths) for pid, paths in answered.items()}
    assert len(calls) == WORKERS and min(calls.values()) >= WARM_UP_CALLS, calls
    assert run.emptied
