"""The API's command line against databases created for this module: migrate, seed, token."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import jwt
import pytest

from collabcache_api.cli import main
from collabcache_api.migrate import upgrade
from collabcache_api.security import user_id_from_token
from collabcache_api.seed import OWNER_EMAIL, generate
from collabcache_api.seed_dataset import SeedConfig
from collabcache_shared.settings import AuthSettings

SMALL = {"organizations": 4, "users": 40, "teams": 5, "studies": 12, "comments": 150}
SMALL_ARGS = ["--orgs", "4", "--users", "40", "--teams", "5", "--studies", "12"]
SMALL_ARGS += ["--comments", "150", "--seed", "11"]
TABLES = ("users", "organizations", "teams", "studies", "comments", "activity")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _admin_exec(admin_dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def scratch_database(servers: dict[str, str], name: str) -> Iterator[str]:
    admin = servers["postgres"].replace("postgresql+asyncpg://", "postgresql://", 1)
    _run(_admin_exec(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield urlsplit(admin)._replace(path=f"/{name}").geturl()
    finally:
        _run(_admin_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def counts(url: str) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    return {name: n for name, n in _run(_fetch(url, sql))}


def cli(url: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as env,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        env.setenv("DATABASE_URL", url)
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def seed_db(servers: dict[str, str], run_id: str) -> Iterator[str]:
    with scratch_database(servers, f"cc_seed_{run_id}") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def first_load(seed_db: str) -> tuple[int, str, str]:
    """The first seed of the empty database (with --if-empty, which must load when empty)."""
    return cli(seed_db, "seed", *SMALL_ARGS, "--if-empty")


def test_first_seed_loads_the_requested_rows(
    seed_db: str, first_load: tuple[int, str, str]
) -> None:
    code, out, err = first_load
    assert (code, err) == (0, "")
    found = counts(seed_db)
    assert {k: found[k] for k in SMALL} == SMALL
    assert found["activity"] >= SMALL["studies"] + SMALL["comments"]
    assert out.strip().startswith("seeded 4 organizations, 40 users, 5 teams, 12 studies")
    # The same seed gives the same UUIDs as the pure generator.
    expected = generate(SeedConfig(**SMALL, seed=11), datetime.now(UTC))
    rows = _run(_fetch(seed_db, "SELECT id, email FROM users"))
    assert {(r["id"], r["email"]) for r in rows} == {(u[0], u[1]) for u in expected.users}


def test_if_empty_leaves_a_seeded_database_alone(
    seed_db: str, first_load: tuple[int, str, str]
) -> None:
    before = counts(seed_db)
    code, out, _ = cli(seed_db, "seed", "--scale", "0.01", "--seed", "99", "--if-empty")
    assert code == 0
    assert "not loaded" in out
    assert counts(seed_db) == before


def test_plain_seed_refuses_a_non_empty_database(
    seed_db: str, first_load: tuple[int, str, str]
) -> None:
    before = counts(seed_db)
    code, out, err = cli(seed_db, "seed", "--scale", "0.01", "--seed", "99")
    assert code == 1
    assert "already has users" in err
    assert "Traceback" not in err and out == ""
    assert counts(seed_db) == before


def test_token_for_owner_decodes_to_the_owner(
    seed_db: str, first_load: tuple[int, str, str]
) -> None:
    owner_id = _run(_fetch(seed_db, "SELECT id FROM users WHERE email = $1", OWNER_EMAIL))[0][0]
    code, out, _ = cli(seed_db, "token", "Owner@Example.COM")
    assert code == 0
    assert user_id_from_token(out.splitlines()[-1], AuthSettings()) == owner_id
    code, out, _ = cli(seed_db, "token", OWNER_EMAIL, "--ttl-seconds", "120")
    claims = jwt.decode(out.splitlines()[-1], options={"verify_signature": False})
    assert (code, claims["exp"] - claims["iat"]) == (0, 120)


def test_token_for_an_unknown_email_fails(seed_db: str, first_load: tuple[int, str, str]) -> None:
    code, out, err = cli(seed_db, "token", "nobody@example.com")
    assert code == 1
    assert out == ""
    assert "nobody@example.com" in err


def test_seed_asks_for_migrations_then_migrate_makes_it_work(
    servers: dict[str, str], run_id: str
) -> None:
    with scratch_database(servers, f"cc_seed_new_{run_id}") as url:
        code, _, err = cli(url, "seed", "--scale", "0.001")
        assert code == 1
        assert "migrate" in err and "Traceback" not in err
        assert cli(url, "migrate")[0] == 0
        assert cli(url, "migrate")[0] == 0  # idempotent
        code, out, _ = cli(url, "seed", "--scale", "0.001", "--if-empty")
        assert code == 0, out
        assert counts(url)["users"] == 10


@pytest.mark.parametrize(
    "args", [["seed", "--orgs", "1"], ["seed", "--scale", "0"], ["token"], ["nope"]]
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(io.StringIO()):
        main(args)
    assert exc.value.code == 2
