"""`make run` (scripts/devstack*.py): which servers it picks, and what it writes and prints."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import devstack  # noqa: E402
from devstack_servers import (  # noqa: E402
    LOCAL_DATABASE_URL,
    LOCAL_REDIS_URL,
    Choice,
    Source,
    choose_servers,
    free_port,
    redact,
)

ENV_DATABASE_URL = "postgresql://app:pw@db.example:5432/app"
ENV_REDIS_URL = "redis://cache.example:6379/2"


class Probe:
    """A stand-in for "does the local server answer?" that records whether it was asked."""

    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answers


def choose(env: dict[str, str], postgres: Probe, redis: Probe) -> tuple[Choice, Choice]:
    return choose_servers(env, postgres_answers=postgres, redis_answers=redis)


def test_urls_from_the_environment_are_used_without_probing() -> None:
    postgres, redis = Probe(True), Probe(True)
    env = {"DATABASE_URL": ENV_DATABASE_URL, "REDIS_URL": ENV_REDIS_URL}

    chosen = choose(env, postgres, redis)

    assert chosen == (
        Choice(Source.ENVIRONMENT, ENV_DATABASE_URL),
        Choice(Source.ENVIRONMENT, ENV_REDIS_URL),
    )
    assert (postgres.calls, redis.calls) == (0, 0)


def test_nothing_configured_and_nothing_answering_means_embedded_servers() -> None:
    postgres, redis = Probe(False), Probe(False)

    chosen = choose({}, postgres, redis)

    assert chosen == (Choice(Source.EMBEDDED, None), Choice(Source.EMBEDDED, None))
    assert (postgres.calls, redis.calls) == (1, 1)


def test_local_servers_that_answer_are_used() -> None:
    chosen = choose({}, Probe(True), Probe(True))

    assert chosen == (
        Choice(Source.LOCAL, LOCAL_DATABASE_URL),
        Choice(Source.LOCAL, LOCAL_REDIS_URL),
    )
    assert LOCAL_DATABASE_URL.endswith(":5432/collabcache")


def test_each_server_is_chosen_on_its_own() -> None:
    chosen = choose({"DATABASE_URL": ENV_DATABASE_URL}, Probe(False), Probe(False))

    assert chosen == (Choice(Source.ENVIRONMENT, ENV_DATABASE_URL), Choice(Source.EMBEDDED, None))


@pytest.mark.parametrize("flag", ["1", "true", "yes"])
def test_forcing_embedded_ignores_environment_and_local_servers(flag: str) -> None:
    postgres, redis = Probe(True), Probe(True)
    env = {"DATABASE_URL": ENV_DATABASE_URL, "REDIS_URL": ENV_REDIS_URL}

    chosen = choose({**env, "COLLABCACHE_EMBEDDED": flag}, postgres, redis)

    assert chosen == (Choice(Source.EMBEDDED, None), Choice(Source.EMBEDDED, None))
    assert (postgres.calls, redis.calls) == (0, 0)


@pytest.mark.parametrize("flag", ["", "0", "false"])
def test_a_false_embedded_flag_changes_nothing(flag: str) -> None:
    chosen = choose({"COLLABCACHE_EMBEDDED": flag}, Probe(True), Probe(True))

    assert {c.source for c in chosen} == {Source.LOCAL}


def test_urls_left_by_a_killed_run_do_not_count_as_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Makefile exports the stack.env of a run killed before removing it.
    stale_url = "postgresql://postgres@127.0.0.1:55432/collabcache"
    (tmp_path / "stack.env").write_text(f"# old\nDATABASE_URL={stale_url}\nREDIS_URL=redis://x/0\n")
    monkeypatch.setenv("DATABASE_URL", stale_url)
    monkeypatch.setenv("REDIS_URL", ENV_REDIS_URL)  # differs from the file: set by the developer

    env = devstack.configured_environment(tmp_path)

    assert "DATABASE_URL" not in env
    assert env["REDIS_URL"] == ENV_REDIS_URL


def test_stack_env_round_trips_through_make_escaping(tmp_path: Path) -> None:
    urls = {"DATABASE_URL": "postgresql://u:pa$$w@h:1/d", "REDIS_URL": "redis://h:2/0"}
    with ExitStack() as stack:
        path = devstack.write_stack_env(tmp_path, urls, stack)
        assert "pa$$$$w" in path.read_text()  # make reads `$$` as one `$`
        assert devstack.read_env_file(path) == urls
        assert path.stat().st_mode & 0o077 == 0  # may hold passwords: owner only
    assert not path.exists()  # removed when the stack stops


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_redact_hides_passwords(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.fixture
def listening_port() -> Iterator[Callable[[], int]]:
    sockets: list[socket.socket] = []

    def listen() -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sockets.append(sock)
        return int(sock.getsockname()[1])

    yield listen
    for sock in sockets:
        sock.close()


def test_free_port_prefers_the_given_port_and_avoids_a_taken_one(
    listening_port: Callable[[], int],
) -> None:
    taken = listening_port()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])

    assert free_port(free) == free
    assert free_port(taken) not in {taken, 0}


def _banner(redis_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    planned = devstack.planned_services()
    servers = {
        "PostgreSQL": (ENV_DATABASE_URL, "from the environment"),
        "Redis": (redis_url, "from the environment"),
    }
    devstack.print_banner(planned, servers, Path(".run/stack.env"))
    return capsys.readouterr().out


def test_the_banner_says_when_redis_is_not_answering(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    banner = _banner(f"redis://127.0.0.1:{port}/0", capsys)
    assert "Redis is not answering" in banner
    assert "BYPASS" in banner


def test_the_banner_is_quiet_about_a_redis_that_answers(
    servers: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert "not answering" not in _banner(servers["redis"], capsys)
