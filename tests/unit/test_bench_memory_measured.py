"""The measured Redis memory benchmark (bench/memory_100k.py): keys grouped by the registry's
templates, a replay that serves every user and fills the hot keys, and the target judged on the
measured `used_memory` with the model beside it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from bench.load.targets import collect
from bench.load.workload import Call, Dataset
from bench.memory_100k import target
from bench.memory_keyspace import GENERATIONS, OTHER, KeyFamilies
from bench.memory_replay import Replay, fill
from collabcache_shared.cache.keys import POLICIES, CacheKey, Family, KeySpace
from collabcache_shared.events import CACHE_EVENTS_STREAM


def test_every_registry_key_is_grouped_under_its_family() -> None:
    keys = KeySpace(prefix="bench-x")
    families = KeyFamilies(keys)
    for family, policy in POLICIES.items():
        ids = [uuid.uuid4() for _ in range(policy.id_count)]
        assert families.of(keys.entry(CacheKey.of(family, *ids))) == family.value
    assert families.of(keys.generation(Family.STUDY_COMMENTS)) == GENERATIONS
    assert families.of(keys.stream(CACHE_EVENTS_STREAM)) == CACHE_EVENTS_STREAM
    assert families.of("bench-x:v1:{org:not-a-uuid:members}") == OTHER
    assert families.of("someone-else:v1:{system:stats}") == OTHER


class FakeApi:
    """An API's cache in a set: the first read of a path is a MISS, every later one a HIT;
    the first read of each user in `failing` answers 500."""

    def __init__(self, failing: frozenset[uuid.UUID] = frozenset()) -> None:
        self.cached: set[str] = set()
        self.users: set[uuid.UUID] = set()
        self.failing = set(failing)

    async def send(self, call: Call) -> str:
        if call.user in self.failing:
            self.failing.discard(call.user)
            return "status 500"
        self.users.add(call.user)
        if call.path in self.cached:
            return "HIT"
        self.cached.add(call.path)
        return "MISS"


def _dataset(users: int) -> Dataset:
    people = [uuid.uuid4() for _ in range(users)]
    org, study = uuid.uuid4(), uuid.uuid4()
    return Dataset(
        users=people,
        orgs_of={u: [org] for u in people},
        studies_of={u: [study] for u in people[::2]},
        teams_of={org: []},
        owned_studies=[(study, people[0])],  # the mix's writes (left out) need one
        member_toggles=[],
        collaborator_toggles=[],
    )


def test_the_replay_serves_every_user_and_its_hot_reads_all_hit() -> None:
    data, api = _dataset(400), FakeApi()
    replay = Replay(api.send, concurrency=4)
    asyncio.run(fill(replay, data, zipf_reads=100, hot_reads=20))
    assert api.users == set(data.users)  # the Zipf stream alone reaches far fewer
    assert replay.served == set(data.users)
    assert sum(replay.outcomes["zipf"].values()) == 100
    assert replay.outcomes["hot"] == {"HIT": 20}
    assert all(not call.writes for call in replay.hot(20))


def test_a_user_whose_read_failed_is_served_by_a_retry() -> None:
    data = _dataset(300)
    api = FakeApi(failing=frozenset(data.users[::3]))
    replay = Replay(api.send, concurrency=4)
    asyncio.run(fill(replay, data, zipf_reads=50, hot_reads=5))
    assert replay.served == set(data.users)
    assert replay.outcomes["retry"]["status 500"] == 0


def test_the_target_judges_used_memory_at_one_gigabyte() -> None:
    below = {"used_memory": 999_999_999, "used_memory_dataset": 1}
    at = {"used_memory": 1_000_000_000, "used_memory_dataset": 1}
    model = {"total_bytes": 3_096_000_000}
    assert target(100_000, below, model)["met"] is True
    assert target(100_000, at, model)["met"] is False
    assert "model, worst case: 3,096 MB" in target(100_000, below, model)["measured"]


def test_the_measured_figure_not_the_model_is_what_the_targets_judge() -> None:
    measured = target(100_000, {"used_memory": 600_000_000, "used_memory_dataset": 1}, None)
    modelled = {"name": "Redis memory, 100,000-user dataset", "target": "< 1 GB"}
    result = {
        "memory": {"targets": [modelled | {"measured": "3,096 MB (model)", "met": False}]},
        "memory_100k": {"targets": [measured]},
    }
    memory = [t for t in collect(result) if "Redis" in t["name"]]
    assert memory == [measured]
    unmeasured = [t for t in collect({}) if "used_memory" in t["name"]]
    assert [t["met"] for t in unmeasured] == [None]


def test_the_page_renders_the_measured_memory_beside_the_model() -> None:
    from bench import report
    from bench.memory_100k import PLANS, outcome

    empty = {"used_memory": 1_000_000, "used_memory_dataset": 1}
    after = {"used_memory": 600_000_000, "used_memory_dataset": 500_000_000, "expired_keys": 0}
    groups = {"USER_PERMISSIONS": {"keys": 9, "sampled": 9, "mean_bytes": 100.0, "bytes": 900}}
    model = {"total_bytes": 3e9, "bytes_by_family": {"USER_PERMISSIONS": 1.5e9}, "from": "x"}
    replayed = {"dataset": {"users": 100_000}, "users_served": 100_000, "requests": 9}
    replayed |= {"passes": {}, "pass_seconds": {}, "hot_hits": "2 of 2"}
    part = outcome(PLANS["smoke"], 1.0, empty, after, groups, replayed, model)
    result: dict[str, Any] = {"profile": "quick", "started_utc": "now", "host": {"cpus": 2}}
    result |= {"memory_100k": part, "targets": collect({"memory_100k": part})}
    page = report.page(result, {"throughput": "bench/throughput.png"})
    assert "### bench.memory_100k" in page
    assert "| USER_PERMISSIONS | 9 | 9 | 100 | 0.0 MB | 1,500.0 MB |" in page
    assert "| Redis used_memory, 100,000-user dataset after the replay | < 1 GB | 600 MB" in page
