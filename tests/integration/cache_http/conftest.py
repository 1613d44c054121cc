"""Fixtures for the HTTP-level cache tests: a scene, SQL statement counting (the app's key space
is `app_keyspace`, tests/integration/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from collabcache_api.pagination import PageRequest
from collabcache_shared.settings import ApiSettings
from tests.integration.builders import Builder, Scene


@pytest.fixture(scope="session")
def page_variant(api_settings: ApiSettings) -> str:
    """The hash field variant of a first page of the default size."""
    return PageRequest(limit=api_settings.default_page_size, after=None).variant


@pytest.fixture
async def scene(build: Builder) -> Scene:
    return await build.scene()


class StatementCounter:
    """Counts the SQL statements an engine sends whose text contains a given snippet."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def count(self, snippet: str) -> int:
        return sum(snippet in s for s in self.statements)


def counting(app: Any) -> Iterator[StatementCounter]:
    engine = app.state.container.engine.sync_engine
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)


@pytest.fixture
def sql(app: Any) -> Iterator[StatementCounter]:
    """Every SQL statement the app under test sends during the test."""
    yield from counting(app)
