"""The real stack behind the dashboard, as processes, with API traffic flowing through it.

`RealStack` gives the three services (API, invalidator, metrics) a fresh migrated and seeded
database and their own Redis key prefix, each on a free port, and removes it all afterwards.
`Traffic` reads the API's cached endpoints in a loop and posts a comment now and then, so the
metrics service sees hits, misses and invalidations.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from tests.databases import migrated_database
from tests.e2e.dashboard_support import free_port
from tests.redis_keys import drop_keys

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_TIMEOUT_SECONDS = 60
SEED = [
    "seed",
    "--orgs",
    "3",
    "--users",
    "24",
    "--teams",
    "4",
    "--studies",
    "8",
    "--comments",
    "40",
]
SERVICES = {  # name: (console script, the setting that moves its port)
    "api": ("collabcache-api", "API_PORT"),
    "invalidator": ("collabcache-invalidator", "INVALIDATOR_HTTP_PORT"),
    "metrics": ("collabcache-metrics", "METRICS_HTTP_PORT"),
}


def in_another_thread(function: Callable[[], T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


class Service:
    """One service process, its output collected (shown when the stack fails)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return f"--- {self.name} ---\n" + "".join(self.lines)

    def is_ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited early:\n{self.output}")
        try:
            return httpx.get(f"{self.url}/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class RealStack:
    def __init__(self, servers: dict[str, str], run_id: str) -> None:
        self.servers = servers
        self.database_name = f"cc_dashboard_{run_id}"
        self.key_prefix = f"ccdash:{run_id}"
        self.services: dict[str, Service] = {}
        self._exit = ExitStack()

    # Playwright's sync API keeps an event loop running in the test's thread, where the
    # database helpers' asyncio.run() would refuse to start: set up and tear down elsewhere.
    def __enter__(self) -> RealStack:
        return in_another_thread(self._start)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        in_another_thread(self._exit.close)

    def _start(self) -> RealStack:
        try:
            database_url = self._exit.enter_context(
                migrated_database(self.servers["postgres"], self.database_name)
            )
            self._exit.callback(self._remove_redis_keys)
            self.env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "REDIS_URL": self.servers["redis"],
                "REDIS_KEY_PREFIX": self.key_prefix,
                "PYTHONUNBUFFERED": "1",
            }
            self.cli(*SEED)
            self._start_services()
        except BaseException:
            self._exit.close()
            raise
        return self

    @property
    def output(self) -> str:
        return "\n".join(service.output for service in self.services.values())

    def url(self, service: str) -> str:
        return self.services[service].url

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "collabcache_api.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cli {args[0]} failed:\n{result.stdout}{result.stderr}")
        return result.stdout.strip().splitlines()[-1]

    def token(self, email: str) -> str:
        return self.cli("token", email)

    def _start_services(self) -> None:
        ports = {variable: free_port() for _script, variable in SERVICES.values()}
        env = {**self.env, **{variable: str(port) for variable, port in ports.items()}}
        for name, (script, variable) in SERVICES.items():
            service = Service(name, [str(BIN / script)], env, ports[variable])
            self.services[name] = service
            self._exit.callback(service.stop)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not all(service.is_ready() for service in self.services.values()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the services were not ready in time:\n{self.output}")
            time.sleep(0.25)

    def _remove_redis_keys(self) -> None:
        drop_keys(self.servers["redis"], self.key_prefix)


class Traffic(threading.Thread):
    """Reads every cached endpoint in turn (and comments now and then) until `stop()`."""

    COMMENT_EVERY = 15  # requests between two comments: each one invalidates the study's entries
    PAUSE_SECONDS = 0.02  # about 30-40 requests a second on two shared cores

    def __init__(self, api_url: str, owner_token: str, member_token: str) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=api_url, timeout=10)
        self.owner = {"Authorization": f"Bearer {owner_token}"}
        self.member = {"Authorization": f"Bearer {member_token}"}
        self.statuses: Counter[int] = Counter()
        self.error: Exception | None = None
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=15)
        self.http.close()

    def get(self, path: str, headers: dict[str, str]) -> Any:
        response = self.http.get(path, headers=headers)
        self.statuses[response.status_code] += 1
        return response.json() if response.status_code == 200 else None

    def items(self, path: str) -> list[str]:
        """The ids on the first page of a listing, read as the owner."""
        page = self.get(path, self.owner)
        if page is None:
            raise RuntimeError(f"GET {path} failed: cannot build the traffic")
        return [item["id"] for item in page["items"]]

    def reads(self) -> list[tuple[str, dict[str, str]]]:
        """The requests to repeat: every cached GET endpoint, on a few of the seeded rows."""
        organizations = self.items("/api/organizations")[:2]
        studies = self.items("/api/collaboration/studies")[:3]
        teams = [t for org in organizations for t in self.items(f"/api/organizations/{org}/teams")]
        reads = [("/api/me", self.member), ("/api/organizations", self.member)]
        reads += [
            (f"/api/organizations/{org}/{part}", self.owner)
            for org in organizations
            for part in ("members", "teams", "analytics")
        ]
        reads += [(f"/api/teams/{team}/members", self.owner) for team in teams[:2]]
        reads += [
            (f"/api/collaboration/studies/{study}/{part}", self.owner)
            for study in studies
            for part in ("comments", "collaborators", "activity")
        ]
        self.commented_study = studies[0]
        return reads

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # reported by the test, which checks `error`
            self.error = exc

    def _loop(self) -> None:
        reads = self.reads()
        for count in itertools.count(1):
            if self._stopping.is_set():
                return
            path, headers = reads[count % len(reads)]
            self.get(path, headers)
            if count % self.COMMENT_EVERY == 0:
                response = self.http.post(
                    f"/api/collaboration/studies/{self.commented_study}/comments",
                    headers=self.owner,
                    json={"body": f"dashboard traffic {count}"},
                )
                self.statuses[response.status_code] += 1
            time.sleep(self.PAUSE_SECONDS)
