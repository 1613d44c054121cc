"""Writers and readers over HTTP, each request through a random replica, recorded as a history.

As the owner: a fresh organization and a study in it. Each writer owns a disjoint set of users
and toggles, one write at a time, three registers per user: membership of the organization
(role `member`, which grants no study access: see services/api/src/collabcache_api/access.py),
collaboration on the study (role `viewer`), and a comment "about <user>" posted by the owner.
Readers observe the views of tests/history/history.py (M, F, R, C, L, K). A read that gets no
answer is no observation; a write that gets none has an unknown outcome (the register is
ambiguous), and its writer learns the truth from PostgreSQL before writing that register again.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tests.history.cluster import Cluster
from tests.history.history import VIEW_REGISTER, History, Observation, Read
from tests.integration.builders import Person

# httpcore tries `import sniffio` on every request; where it is not installed, each failed
# import searches sys.path again (a sixth of this driver's CPU). A None entry fails it at once.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

ORG = "/api/organizations/{org}"
STUDY = "/api/collaboration/studies/{study}"
LIMIT = "?limit=200"  # one page holds every member, collaborator and comment of a run
VIEWS = ("M", "F", "R", "C", "L", "K")
REGISTERS = ("member", "collab", "comment")
REQUEST_TIMEOUT_SECONDS = 10.0
# Readers chase writes: this share of reads goes to a register being written or written in
# the last HOT_SECONDS (during a write and just after it is where a stale window opens).
HOT_SHARE = 0.7
HOT_SECONDS = 1.5  # past a Redis fault: the relay retries a failed publish after 1 s
READS_PER_HOT = 2
SHADOWS_PER_WRITE = 2  # reads sent as a write starts, on views of its register
REGISTER_VIEWS = {r: [v for v, vr in VIEW_REGISTER.items() if vr == r] for r in REGISTERS}


@dataclass(frozen=True)
class Shadow:
    task: asyncio.Task[bool]
    view: str
    caller: Person
    replica: int


@dataclass(frozen=True)
class Scene:
    org: str
    study: str
    owner: Person
    users: list[Person]


def now() -> float:
    return time.monotonic()


async def create_scene(cluster: Cluster) -> Scene:
    """A fresh organization and study, owned by the owner, with nobody else in them."""
    owner = cluster.owner.headers
    async with httpx.AsyncClient(base_url=cluster.replicas[0].url, timeout=30) as client:
        org = await client.post("/api/organizations", headers=owner, json={"name": "history"})
        org.raise_for_status()
        org_id = org.json()["id"]
        path = f"/api/organizations/{org_id}/studies"
        study = await client.post(path, headers=owner, json={"title": "history"})
        study.raise_for_status()
    return Scene(org_id, study.json()["id"], cluster.owner, cluster.users)


class Workload:
    def __init__(self, cluster: Cluster, scene: Scene, history: History, seed: int) -> None:
        self.cluster = cluster
        self.scene = scene
        self.history = history
        self.rng = random.Random(seed)
        self.in_flight: Counter[int] = Counter()  # writes in flight per replica
        # (register, user) -> when its last write returned (inf while in flight)
        self.hot: dict[tuple[str, Person], float] = {}
        self.requests: Counter[str] = Counter()
        self.deadline = 0.0
        self._spawned: set[asyncio.Task[bool]] = set()
        self._all_clients: list[httpx.AsyncClient] = []
        self.clients = self.new_clients()  # the shadow and chase reads'

    def new_clients(self) -> list[httpx.AsyncClient]:
        """One small client per replica: httpcore's pool checks every pooled connection on
        each request, so each task gets its own pool rather than sharing a large one."""
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
        clients = [
            httpx.AsyncClient(base_url=r.url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits)
            for r in self.cluster.replicas
        ]
        self._all_clients += clients
        return clients

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._all_clients))

    async def run(self, writers: Sequence[Awaitable[None]], readers: int = 10) -> None:
        """The writers and `readers` readers until the deadline, then the last shadow reads."""
        tasks = [self._reader(random.Random(self.rng.random())) for _ in range(readers)]
        await asyncio.gather(*writers, *tasks)
        await asyncio.gather(*self._spawned)

    def shadow(self, register: str, user: Person) -> list[Shadow]:
        """Reads sent as a write starts, on views of its register: in flight across the write,
        their loads may begin before its commit and end after its response."""
        shadows = []
        for _ in range(SHADOWS_PER_WRITE):
            view = self.rng.choice(REGISTER_VIEWS[register])
            caller = self.scene.owner if view in "MLK" else user
            replica = self.rng.randrange(len(self.clients))
            shadows.append(Shadow(self._spawn(view, caller, replica), view, caller, replica))
        return shadows

    def chase(self, shadows: list[Shadow]) -> None:
        """As the write returns: each shadow read still in flight is sent again to its replica
        (the new one may join the old one's load: README "One load per cold key")."""
        for shadow in shadows:
            if not shadow.task.done():
                self._spawn(shadow.view, shadow.caller, shadow.replica)

    def _spawn(self, view: str, caller: Person, replica: int) -> asyncio.Task[bool]:
        task = asyncio.ensure_future(self._read(view, caller, replica))
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)
        return task

    def running(self) -> bool:
        return now() < self.deadline

    async def _reader(self, rng: random.Random) -> None:
        clients = self.new_clients()
        while self.running():
            view, user, hot = self._target(rng)
            caller = self.scene.owner if view in "MLK" else user
            replica = rng.randrange(len(self.clients))
            # A hot read goes in pairs: concurrent misses of one key on one replica share a
            # load (README "One load per cold key"), the path where a load can outlive a write.
            pair = range(READS_PER_HOT if hot else 1)
            reads = [self._read(view, caller, replica, clients) for _ in pair]
            if not all(await asyncio.gather(*reads)):
                await asyncio.sleep(0.01)  # a dead replica refuses at once: do not spin

    async def _read(
        self,
        view: str,
        caller: Person,
        replica: int,
        clients: list[httpx.AsyncClient] | None = None,
    ) -> bool:
        """One read, its observations recorded; False when it got no answer."""
        client = (clients or self.clients)[replica]
        start = now()
        try:
            response = await client.get(self._path(view), headers=caller.headers)
        except httpx.TransportError:
            self.requests["read errors"] += 1
            return False
        x_cache = response.headers.get("x-cache", "")
        who = caller.email.split("-")[0]
        read = Read(view, replica, start, now(), response.status_code, x_cache, who)
        self.requests["reads"] += 1
        self.history.observations += observe(read, response, self.scene, caller)
        return True

    def _target(self, rng: random.Random) -> tuple[str, Person, bool]:
        """A view and a user: mostly one whose register was just written (hot), else any."""
        recent = [key for key, ended in self.hot.items() if now() - ended < HOT_SECONDS]
        if recent and rng.random() < HOT_SHARE:
            register, user = rng.choice(recent)
            return rng.choice([v for v in VIEWS if VIEW_REGISTER[v] == register]), user, True
        return rng.choice(VIEWS), rng.choice(self.scene.users), False

    def _path(self, view: str) -> str:
        org, study = ORG.format(org=self.scene.org), STUDY.format(study=self.scene.study)
        return {
            "M": f"{org}/members{LIMIT}",
            "F": f"/api/organizations{LIMIT}",
            "R": f"{org}/members{LIMIT}",
            "C": f"{study}/permissions",
            "L": f"{study}/collaborators{LIMIT}",
            "K": f"{study}/comments{LIMIT}",
        }[view]


def observe(
    read: Read, response: httpx.Response, scene: Scene, caller: Person
) -> list[Observation]:
    """What one answer says about each register it shows (nothing for an error or a 5xx)."""
    status = response.status_code
    if read.view in "RC":
        known = {200: True, 404: False}
        if status not in known:
            return []
        return [Observation(read, str(caller.id), known[status])]
    if status != 200:
        return []
    page: dict[str, Any] = response.json()
    if page.get("next_cursor"):
        return []  # a partial list says nothing about who is missing from it
    items = page["items"]
    if read.view == "F":
        return [Observation(read, str(caller.id), any(i["id"] == scene.org for i in items))]
    if read.view == "K":
        shown = {i["body"] for i in items}
        return [Observation(read, str(u.id), comment_body(u) in shown) for u in scene.users]
    listed = {i["user_id"] for i in items}  # M and L
    return [Observation(read, str(u.id), str(u.id) in listed) for u in scene.users]


def comment_body(user: Person) -> str:
    return f"about {user.id}"
