"""One writer of the history workload: its own users, one write at a time, each write shadowed
by reads of its register (tests/history/workload.py), its outcome classified for the checker.

After a write whose outcome is unknown (or a surprise 404 / 409), the writer learns the truth
from PostgreSQL before writing that register again; the checker never uses that look-up.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import httpx

from tests.history.history import Outcome, Write
from tests.history.workload import ORG, REGISTERS, STUDY, Workload, comment_body, now
from tests.integration.builders import Person

WRITE_PAUSE_SECONDS = 0.02  # between two writes of one writer: room for the readers
SETTLE_SECONDS = 0.3  # after a lost connection: the killed transaction ends before the look-up


class Writer:
    """One writer: its own users, one write at a time, knowing what each register holds."""

    def __init__(self, workload: Workload, users: list[Person], seed: float) -> None:
        self.w = workload
        self.users = users
        self.rng = random.Random(seed)
        self.state = {(r, str(u.id)): False for r in REGISTERS for u in users}
        self.comments: dict[str, str] = {}  # user id -> id of the comment about them
        self.retired: set[tuple[str, str]] = set()
        self.clients = workload.new_clients()

    async def run(self) -> None:
        while self.w.running():
            user = self.rng.choice(self.users)
            register = self.rng.choice(REGISTERS)
            if (register, str(user.id)) not in self.retired:
                await self.write(register, user)
            await asyncio.sleep(self.rng.uniform(0, WRITE_PAUSE_SECONDS))

    async def write(self, register: str, user: Person) -> None:
        key = (register, str(user.id))
        value = not self.state[key]
        method, path, body = self._request(register, user, value)
        replica = self.rng.randrange(len(self.clients))
        status: int | None = None
        start = now()
        self.w.hot[(register, user)] = float("inf")
        shadows = self.w.shadow(register, user)
        self.w.in_flight[replica] += 1
        try:
            response = await self.clients[replica].request(
                method, path, json=body, headers=self.w.scene.owner.headers
            )
            status, outcome = response.status_code, classify(response)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            outcome = Outcome.NOT_APPLIED  # nothing reached a server
        except httpx.TimeoutException:
            outcome = Outcome.UNKNOWN  # the server may still be at it: never written again
            self.retired.add(key)
        except httpx.TransportError:
            outcome = Outcome.UNKNOWN
        finally:
            end = now()
            self.w.in_flight[replica] -= 1
            self.w.hot[(register, user)] = end
            self.w.chase(shadows)
        self.w.history.writes.append(Write(*key, value, start, end, outcome, replica, status))
        self.w.requests[f"writes {outcome.value}"] += 1
        if outcome is Outcome.APPLIED:
            self.state[key] = value
            if register == "comment" and value:
                self.comments[str(user.id)] = response.json()["id"]
        elif outcome in (Outcome.UNKNOWN, Outcome.CONFLICT) and key not in self.retired:
            await self._learn(register, user)

    def _request(self, register: str, user: Person, value: bool) -> tuple[str, str, Any]:
        org = ORG.format(org=self.w.scene.org)
        study = STUDY.format(study=self.w.scene.study)
        uid = str(user.id)
        if register == "member":
            add = ("POST", f"{org}/members", {"user_id": uid, "role": "member"})
            return add if value else ("DELETE", f"{org}/members/{uid}", None)
        if register == "collab":
            add = ("POST", f"{study}/collaborators", {"user_id": uid, "role": "viewer"})
            return add if value else ("DELETE", f"{study}/collaborators/{uid}", None)
        if value:
            return ("POST", f"{study}/comments", {"body": comment_body(user)})
        return ("DELETE", f"{study}/comments/{self.comments[uid]}", None)

    async def _learn(self, register: str, user: Person) -> None:
        """The truth from PostgreSQL, for the next write only (the checker never uses it)."""
        await asyncio.sleep(SETTLE_SECONDS)
        conn = await self.w.cluster.db()
        try:
            uid, scene = user.id, self.w.scene
            if register == "member":
                sql = "SELECT 1 FROM organization_members WHERE organization_id=$1 AND user_id=$2"
                found = await conn.fetchval(sql, uuid_of(scene.org), uid)
            elif register == "collab":
                sql = "SELECT 1 FROM study_collaborators WHERE study_id=$1 AND user_id=$2"
                found = await conn.fetchval(sql, uuid_of(scene.study), uid)
            else:
                sql = "SELECT id FROM comments WHERE study_id=$1 AND body=$2"
                found = await conn.fetchval(sql, uuid_of(scene.study), comment_body(user))
                if found is not None:
                    self.comments[str(uid)] = str(found)
        finally:
            await conn.close()
        self.state[(register, str(uid))] = found is not None


def classify(response: httpx.Response) -> Outcome:
    status = response.status_code
    if status < 300:
        return Outcome.APPLIED
    if status == 503 and "retry-after" in response.headers:
        return Outcome.REFUSED
    if status >= 500:
        return Outcome.UNKNOWN
    if status in (404, 409):
        return Outcome.CONFLICT
    return Outcome.NOT_APPLIED


def uuid_of(text: str) -> uuid.UUID:
    return uuid.UUID(text)
