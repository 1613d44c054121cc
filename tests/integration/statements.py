"""Counting the SQL statements the app under test sends (the `sql` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import event


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
