"""A Redis keyspace grouped by what each key is for, for `bench.memory_100k`: every key SCANned,
named by the key registry's templates (`collabcache_shared.cache.keys`: an entry's scope with its
identifiers taken out is its family's template), its bytes the `MEMORY USAGE` of a sample.

Groups besides the families: the generation counters (`KeySpace.generation`), the streams
(`KeySpace.stream`), and `other` for anything the registry does not name.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from typing import Any

import redis.asyncio as aioredis

from collabcache_shared.cache.keys import POLICIES, Family, KeySpace

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
GENERATIONS = "generation counters"
OTHER = "other"
SAMPLED_KEYS = 60_000  # MEMORY USAGE of at most this many keys; the rest estimated from them
USAGE_BATCH = 1_000  # MEMORY USAGE commands per pipeline


class KeyFamilies:
    """Names the group of a key under one deployment's prefix."""

    def __init__(self, keys: KeySpace) -> None:
        self.entry_head = keys.root + ":{"
        self.family_of_template = {p.template: family.value for family, p in POLICIES.items()}
        self.generations = {keys.generation(family) for family in Family}
        self.stream_head = keys.stream("stream:")

    def of(self, name: str) -> str:
        if name.startswith(self.entry_head) and name.endswith("}"):
            scope = name[len(self.entry_head) : -1]
            return self.family_of_template.get(UUID.sub("{}", scope), OTHER)
        if name in self.generations:
            return GENERATIONS
        if name.startswith(self.stream_head):
            return "stream:" + name.removeprefix(self.stream_head)
        return OTHER


async def key_names(client: aioredis.Redis) -> list[str]:
    return [name.decode() async for name in client.scan_iter(count=5_000)]


async def usage(client: aioredis.Redis, names: list[str]) -> list[int]:
    """`MEMORY USAGE name SAMPLES 0` of each (every field of a hash counted), pipelined."""
    found: list[int] = []
    for start in range(0, len(names), USAGE_BATCH):
        pipe = client.pipeline(transaction=False)
        for name in names[start : start + USAGE_BATCH]:
            pipe.memory_usage(name, samples=0)
        found += [int(u or 0) for u in await pipe.execute()]
    return found


def group(names: list[str], families: KeyFamilies) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for name in names:
        grouped[families.of(name)].append(name)
    return dict(grouped)


async def measure(
    client: aioredis.Redis, keys: KeySpace, sampled: int = SAMPLED_KEYS, seed: int = 3
) -> dict[str, dict[str, Any]]:
    """group -> keys, sampled, mean and estimated total bytes (keys x sampled mean), the
    largest groups first. Each group is sampled in proportion to its share of the keyspace."""
    grouped = group(await key_names(client), KeyFamilies(keys))
    total = sum(len(names) for names in grouped.values()) or 1
    rng = random.Random(seed)
    out: dict[str, dict[str, Any]] = {}
    for name, members in grouped.items():
        want = max(1, round(sampled * len(members) / total))
        chosen = members if want >= len(members) else rng.sample(members, want)
        sizes = await usage(client, chosen)
        mean = sum(sizes) / len(sizes)
        out[name] = {
            "keys": len(members),
            "sampled": len(chosen),
            "mean_bytes": round(mean, 1),
            "bytes": round(mean * len(members)),
        }
    return dict(sorted(out.items(), key=lambda item: -item[1]["bytes"]))
