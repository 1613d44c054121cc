"""Schema migrations (Alembic) run from code: `make run`, the tests and the compose job."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from collabcache_shared.settings import DatabaseSettings


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "collabcache_api:migrations")
    settings = DatabaseSettings(database_url=database_url) if database_url else DatabaseSettings()
    # Percent signs would be read as interpolation by the ini parser behind Config.
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
