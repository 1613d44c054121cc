"""`make run`: the whole collabcache stack on this machine, stopped by one Ctrl-C.

Chooses PostgreSQL and Redis (see devstack_servers.py), writes their URLs to
`<run dir>/stack.env` (the Makefile reads it, so `make token` in another terminal uses the same
servers), migrates, loads the demo data when the database is empty, then runs the API, the
invalidator and the metrics service with their output prefixed by name. Ctrl-C or SIGTERM stops
everything (embedded servers included) and exits 0; a service that dies stops everything and
exits non-zero.

    python scripts/devstack.py [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from devstack_postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    pg_version,
    stop_leftover_postgres,
)
from devstack_processes import Service, StartupError, Supervisor, run_step, say
from devstack_servers import (
    EMBEDDED_POSTGRES_PORT,
    Choice,
    choose_servers,
    embedded_valkey,
    free_port,
    local_postgres_answers,
    local_redis_answers,
    port_answers,
    redact,
    redis_problem,
    stop_leftover_valkey,
    valkey_url,
)

from collabcache_shared.settings import ApiSettings, InvalidatorSettings, MetricsSettings

ROOT = Path(__file__).resolve().parent.parent
STACK_ENV = "stack.env"
READY_TIMEOUT_SECONDS = 60


class StopRequested(BaseException):
    """Ctrl-C or SIGTERM: stop everything and exit 0 (a BaseException, like KeyboardInterrupt,
    so that no `except Exception` on the way swallows it)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=ROOT / ".run",
        help="where stack.env and the embedded servers' data live (default: .run)",
    )
    return parser.parse_args(argv)


def _request_stop(signum: int, frame: FrameType | None) -> None:
    _ignore_signals()  # from now on: a second signal must not interrupt the cleanup
    raise StopRequested


def _ignore_while_stopping(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C under `make run` arrives twice (from the terminal and forwarded by uv)."""


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT/SIGTERM raise StopRequested in the body; cleanup after it is never interrupted."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _request_stop)
    try:
        yield
    finally:
        _ignore_signals()


def _ignore_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _ignore_while_stopping)


def hold_lock(run_dir: Path, stack: ExitStack) -> None:
    lock = stack.enter_context((run_dir / "devstack.lock").open("w"))
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StartupError(f"another devstack is already running on {run_dir}") from None


def read_env_file(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.partition("=") for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip().replace("$$", "$") for key, _, value in pairs}


def configured_environment(run_dir: Path) -> dict[str, str]:
    """The environment, minus URLs that only come from a stack.env left by a killed run
    (the Makefile exports its content, so they would look configured)."""
    stale = read_env_file(run_dir / STACK_ENV)
    return {k: v for k, v in os.environ.items() if not (k in stale and stale[k] == v)}


def write_stack_env(run_dir: Path, urls: Mapping[str, str], stack: ExitStack) -> Path:
    path = run_dir / STACK_ENV
    body = "".join(f"{key}={value.replace('$', '$$')}\n" for key, value in urls.items())
    path.write_text(f"# written by `make run` (pid {os.getpid()}); removed when it stops\n{body}")
    path.chmod(0o600)  # the URLs may carry passwords
    stack.callback(path.unlink, missing_ok=True)
    return path


def stop_with_notice(name: str, stop: Callable[[], None]) -> None:
    say(f"stopping {name}")
    stop()


def provide_postgres(choice: Choice, run_dir: Path, stack: ExitStack) -> tuple[str, str]:
    """(URL, description) of the PostgreSQL to use, starting the embedded one if chosen."""
    if choice.url is not None:
        return choice.url, choice.source.value
    say("starting embedded PostgreSQL ...")
    server = EmbeddedPostgres(run_dir / "postgres", free_port(EMBEDDED_POSTGRES_PORT))
    stack.callback(stop_with_notice, "embedded PostgreSQL", server.stop)
    try:
        url = server.start()
    except EmbeddedPostgresError as exc:
        raise StartupError(f"embedded PostgreSQL did not start: {exc}") from None
    return url, f"embedded {pg_version()}, data in {server.data_dir}, pid {server.pid}"


def provide_redis(choice: Choice, run_dir: Path, stack: ExitStack) -> tuple[str, str]:
    if choice.url is not None:
        return choice.url, choice.source.value
    say("starting embedded Valkey ...")
    server = embedded_valkey(run_dir / "valkey")
    stack.callback(stop_with_notice, "embedded Valkey", server.stop)
    try:
        server.start(timeout=15)
    except Exception as exc:
        raise StartupError(
            f"embedded Valkey did not start: {exc} (log: {server.logfile})"
        ) from None
    return valkey_url(server), f"embedded Valkey, pid {server.pid}"


def planned_services() -> list[Service]:
    """The three services, on the hosts and ports their settings read from the environment."""
    try:
        api, invalidator, metrics = ApiSettings(), InvalidatorSettings(), MetricsSettings()
    except ValueError as exc:  # pydantic's ValidationError, InsecureConfiguration
        raise StartupError(f"invalid settings: {exc}") from None
    bin_dir = Path(sys.executable).parent
    return [
        Service("api", [str(bin_dir / "collabcache-api")], api.api_host, api.api_port, "API_PORT"),
        Service(
            "invalidator",
            [str(bin_dir / "collabcache-invalidator")],
            invalidator.http_host,
            invalidator.http_port,
            "INVALIDATOR_HTTP_PORT",
        ),
        Service(
            "metrics",
            [str(bin_dir / "collabcache-metrics")],
            metrics.http_host,
            metrics.http_port,
            "METRICS_HTTP_PORT",
        ),
    ]


def child_environment(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    env.pop("COLLABCACHE_EMBEDDED", None)
    return env


def check_ports_free(planned: list[Service]) -> None:
    for service in planned:
        if port_answers(service.host, service.port):
            raise StartupError(
                f"port {service.port} ({service.name}) is in use: stop what listens there or "
                f"set {service.port_variable} to another port"
            )


def print_banner(
    planned: list[Service], servers: dict[str, tuple[str, str]], env_file: Path
) -> None:
    api = planned[0]
    say("collabcache is running; Ctrl-C stops everything")
    say(f"  API           {api.base_url}  (OpenAPI docs: {api.base_url}/docs)")
    for service in planned[1:]:
        say(f"  {service.name:<13} {service.base_url}/health  /ready")
    for name, (url, description) in servers.items():
        say(f"  {name:<13} {redact(url)}  ({description})")
    problem = redis_problem(servers["Redis"][0])
    if problem:
        say(f"  WARNING       Redis is not answering ({problem}): every read bypasses the")
        say("                cache (X-Cache: BYPASS) and writes answer 503 until it does")
    say(f"  URLs in       {env_file}")
    say("  a token:      make token EMAIL=owner@example.com")


def start_stack(run_dir: Path, stack: ExitStack, started: float) -> Supervisor:
    planned = planned_services()
    check_ports_free(planned)  # before anything starts: a clash is the commonest failure
    env = configured_environment(run_dir)
    postgres, redis = choose_servers(
        env, postgres_answers=lambda: local_postgres_answers(say), redis_answers=local_redis_answers
    )
    servers = {
        "PostgreSQL": provide_postgres(postgres, run_dir, stack),
        "Redis": provide_redis(redis, run_dir, stack),
    }
    database_url, redis_url = servers["PostgreSQL"][0], servers["Redis"][0]
    env_file = write_stack_env(
        run_dir, {"DATABASE_URL": database_url, "REDIS_URL": redis_url}, stack
    )
    child_env = child_environment(database_url, redis_url)
    cli = [sys.executable, "-m", "collabcache_api.cli"]
    for step in (["migrate"], ["seed", "--if-empty"]):
        if run_step(step[0], [*cli, *step], child_env, cwd=ROOT) != 0:
            raise StartupError(f"`{' '.join(step)}` failed (output above)")
    supervisor = stack.enter_context(Supervisor(planned, child_env, cwd=ROOT))
    supervisor.wait_until_healthy(READY_TIMEOUT_SECONDS)
    print_banner(planned, servers, env_file)
    say(f"ready in {time.monotonic() - started:.1f} s")
    return supervisor


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    run_dir = parse_args(argv).run_dir.absolute()
    run_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        try:
            with stop_on_signals():
                hold_lock(run_dir, stack)
                # Holding the lock: servers still running from this run dir were left by a
                # run that was killed.
                stop_leftover_postgres(run_dir / "postgres")
                stop_leftover_valkey(run_dir / "valkey")
                supervisor = start_stack(run_dir, stack, started)
                failed = supervisor.wait_for_first_exit()
            say(f"{failed.name} exited with code {failed.returncode}; stopping everything")
            code = failed.returncode or 0
            return code if code > 0 else 1  # killed by a signal: negative
        except StopRequested:
            say("stopping ...")
            return 0
        except StartupError as exc:
            say(f"cannot start: {exc}")
            return 1
        finally:
            stack.close()
            say("stopped")
    return 1


if __name__ == "__main__":
    sys.exit(main())
