"""What the hit path reads of a request (README, "The hit path"): the caller, from the bearer
token (remembered, expiry checked each time: `security`), and the page, read as FastAPI reads
`?limit=`/`?cursor=`; None for anything FastAPI would read otherwise or refuse.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Scope

from ..errors import DomainError
from ..pagination import page_request
from ..security import user_id_from_token
from .reads import CachedRead

PAGE_PARAMS = frozenset({"limit", "cursor"})
MAX_LIMIT = 200  # deps.get_page_request's bound
MAX_CURSOR = 200


def caller(authorization: bytes | None, settings: Any) -> uuid.UUID | None:
    if not authorization:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return user_id_from_token(token, settings)
    except DomainError:
        return None


def variant_of(read: CachedRead, scope: Scope, settings: Any) -> str | None:
    """The page's field, or None for a query FastAPI would read otherwise or refuse."""
    params = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    names = [name for name, _ in params]
    if not read.paginated:
        return "-" if not params else None
    if len(set(names)) != len(names) or not set(names) <= PAGE_PARAMS:
        return None
    query = dict(params)
    limit, cursor = query.get("limit"), query.get("cursor")
    if limit is not None and not (
        limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT
    ):
        return None
    if cursor is not None and len(cursor) > MAX_CURSOR:
        return None
    try:
        page = page_request(
            int(limit) if limit is not None else None,
            cursor,
            default_size=settings.default_page_size,
            max_size=settings.max_page_size,
        )
    except DomainError:
        return None
    return page.variant
