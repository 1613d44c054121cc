"""Keyset pagination with opaque cursors: `{"items": [...], "next_cursor": ...}`.

A cursor is the sort key of the last item of a page (a timestamp and an id), base64url-encoded
JSON: stable under concurrent inserts and cheap at any depth, unlike OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, TypeVarTuple

import orjson
from pydantic import BaseModel
from sqlalchemy import Select, SQLColumnExpression, tuple_

from .errors import BadRequest

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: tuple[datetime, uuid.UUID] | None

    @property
    def variant(self) -> str:
        """The page's field in a cache entry (canonical: one field per distinct page)."""
        return f"{self.limit}:{encode_cursor(*self.after) if self.after else ''}"


def page_request(
    limit: int | None, cursor: str | None, *, default_size: int, max_size: int
) -> PageRequest:
    """The page a request asks for (`?limit=`, `?cursor=`); BadRequest for a foreign cursor."""
    size = limit if limit is not None else default_size
    return PageRequest(limit=min(size, max_size), after=decode_cursor(cursor))


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    raw = orjson.dumps([at.isoformat(), str(item_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, item_id = orjson.loads(raw)
        if not isinstance(at, str) or not isinstance(item_id, str):
            raise TypeError("a cursor holds two strings: a timestamp and an id")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's timestamp carries its time zone")
        # In UTC here, so that a far-off offset cannot overflow in the database (a 5xx).
        return moment.astimezone(UTC), uuid.UUID(item_id)
    except (ValueError, TypeError, OverflowError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadRequest("Invalid cursor") from exc


def keyset(
    stmt: Select[*Ts],
    order: tuple[SQLColumnExpression[Any], SQLColumnExpression[Any]],
    page: PageRequest,
    *,
    newest_first: bool = False,
) -> Select[*Ts]:
    """Order by (timestamp, id), start after the cursor, fetch one extra row to see a next page."""
    at_col, id_col = order
    if page.after is not None:
        after = tuple_(at_col, id_col)
        bound = tuple_(*page.after)
        stmt = stmt.where(after < bound if newest_first else after > bound)
    if newest_first:
        stmt = stmt.order_by(at_col.desc(), id_col.desc())
    else:
        stmt = stmt.order_by(at_col, id_col)
    return stmt.limit(page.limit + 1)


def page_of(rows: Sequence[T], page: PageRequest, sort_key: Any) -> tuple[list[T], str | None]:
    """Trim the extra row and make the next cursor from the last item's sort key."""
    items = list(rows[: page.limit])
    if len(rows) <= page.limit:
        return items, None
    at, item_id = sort_key(items[-1])
    return items, encode_cursor(at, item_id)
