"""The API's command line: `python -m collabcache_api.cli {migrate,seed,token,warm}`.

- `migrate`: apply the schema migrations to `DATABASE_URL`;
- `seed`: load the deterministic demo dataset (see `seed`), refusing a non-empty database
  unless `--if-empty` makes that a quiet no-op;
- `token EMAIL`: print a bearer token for that user as the last line of stdout;
- `warm`: fill the hottest cache entries now (`warming.command`; README, "Cache warming").

Exit codes: 0 done (or nothing to do), 1 refused or failed (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from .warming import options as warm_options

# Each command imports what it runs when it runs: `warm` lowers its CPU priority first, so that
# even its imports (a second of CPU) leave an API on the same host its share (README, "Cache
# warming").


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    parse.__name__ = "integer"
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="collabcache_api.cli", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations (DATABASE_URL)")

    seed = commands.add_parser("seed", help="load the deterministic demo dataset")
    seed.add_argument("--scale", type=_positive_float, default=1.0, help="multiply all sizes")
    for flag, dest, minimum in (
        ("--orgs", "organizations", 3),
        ("--users", "users", 10),
        ("--teams", "teams", 0),
        ("--studies", "studies", 1),
        ("--comments", "comments", 0),
    ):
        seed.add_argument(flag, dest=dest, type=_count(minimum), help="exact count (beats --scale)")
    seed.add_argument("--seed", type=int, default=42, help="random seed (same seed, same rows)")
    seed.add_argument(
        "--if-empty", action="store_true", help="do nothing if the database already has users"
    )

    token = commands.add_parser("token", help="print a bearer token for a user (last line)")
    token.add_argument("email")
    token.add_argument("--ttl-seconds", type=_count(60), default=None, help="token lifetime")
    warm_options.add_parser(commands, _count)
    return parser


def _dsn() -> str:
    from collabcache_shared.settings import DatabaseSettings

    from .seed_load import plain_dsn

    return plain_dsn(DatabaseSettings().database_url)


def _migrate() -> int:
    from sqlalchemy.exc import DBAPIError

    from .migrate import upgrade
    from .seed_load import SeedError

    try:
        upgrade()
    except (OSError, DBAPIError) as exc:
        raise SeedError(f"cannot migrate the database: {exc}") from exc
    print("migrations applied")
    return 0


async def _seed(args: argparse.Namespace) -> int:
    from .seed import generate
    from .seed_dataset import SeedConfig
    from .seed_load import DatabaseNotEmpty, has_users, load

    config = SeedConfig.scaled(
        args.scale,
        args.seed,
        organizations=args.organizations,
        users=args.users,
        teams=args.teams,
        studies=args.studies,
        comments=args.comments,
    )
    dsn = _dsn()
    if args.if_empty and await has_users(dsn):
        print("database already has users: demo data not loaded (--if-empty)")
        return 0
    try:
        result = await load(dsn, lambda: generate(config, datetime.now(UTC)))
    except DatabaseNotEmpty:
        if args.if_empty:
            print("database already has users: demo data not loaded (--if-empty)")
            return 0
        raise
    c = result.counts
    print(
        f"seeded {c['organizations']} organizations, {c['users']} users, {c['teams']} teams, "
        f"{c['studies']} studies, {c['comments']} comments "
        f"({c['organization_members']} memberships, {c['team_members']} team members, "
        f"{c['study_collaborators']} collaborators, {c['activity']} activity entries) "
        f"in {result.seconds:.2f}s (seed {config.seed})"
    )
    return 0


async def _token(args: argparse.Namespace) -> int:
    import asyncpg

    from collabcache_shared.settings import AuthSettings

    from .security import issue_token
    from .seed_load import SeedError, connect

    settings = AuthSettings()
    conn = await connect(_dsn())
    try:
        user_id: uuid.UUID | None = await conn.fetchval(
            "SELECT id FROM users WHERE lower(email) = lower($1)", args.email
        )
    except asyncpg.PostgresError as exc:
        raise SeedError(f"cannot look the user up: {exc}") from exc
    finally:
        await conn.close()
    if user_id is None:
        print(f"no user with email {args.email!r}", file=sys.stderr)
        return 1
    ttl = timedelta(seconds=args.ttl_seconds) if args.ttl_seconds else None
    print(issue_token(user_id, settings, ttl))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    niceness = os.nice(args.nice) if args.command == "warm" else 0  # before the imports
    from pydantic import ValidationError

    from .seed_load import SeedError

    try:
        if args.command == "migrate":
            return _migrate()
        if args.command == "seed":
            return asyncio.run(_seed(args))
        if args.command == "warm":
            from .warming import command as warm_command

            return warm_command.main(args, niceness)
        return asyncio.run(_token(args))
    except ValidationError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
    except SeedError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
