"""Filling one declared read ahead of any request (README, "Cache warming").

The entry is filled by the very path a read takes (`CacheManager.get_or_load`: lookup, lease,
load, fill only while the lease holds), with the read's declared loader, so a fill made here
can never store a value older than a completed write. Each load runs in a read session of its
own: a family served stale may refresh in the background after `refill` has returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping

from collabcache_shared.cache.manager import Outcome
from collabcache_shared.cache.store import Slot

from ..bootstrap import Container
from ..errors import NotFound, Unauthorized
from ..pagination import PageRequest, page_request
from .reads import CachedRead


def default_page(container: Container) -> PageRequest:
    """The page a request without `?limit=` or `?cursor=` asks for (the one most read)."""
    settings = container.settings
    return page_request(
        None, None, default_size=settings.default_page_size, max_size=settings.max_page_size
    )


async def refill(
    container: Container, read: CachedRead, ids: Mapping[str, uuid.UUID], user_id: uuid.UUID
) -> Outcome | None:
    """Fill `read`'s entry for (`ids`, `user_id`, the default page): HIT when it was fresh
    already, MISS when loaded (stored unless a write's fence or lease refused it); None when
    the loader refuses (404, 401: nothing is stored) or the cache is off."""
    cache = container.cache
    if cache is None:
        return None
    slot, load = _slot_and_loader(container, read, ids, user_id)
    try:
        result = await cache.get_or_load(slot, load)
    except (NotFound, Unauthorized):
        return None
    return result.outcome


def _slot_and_loader(
    container: Container, read: CachedRead, ids: Mapping[str, uuid.UUID], user_id: uuid.UUID
) -> tuple[Slot, Callable[[], Awaitable[bytes]]]:
    standing = read.standing(ids)
    if read.is_standing:  # the standing record itself is the entry
        assert standing is not None

        async def load_standing() -> bytes:
            async with container.read_sessions() as session:
                return await standing.loader(session, user_id)()

        return standing.slot(user_id), load_standing
    page = default_page(container) if read.paginated else None
    read_load = read.load
    assert read_load is not None

    async def load() -> bytes:
        async with container.read_sessions() as session:
            body = await read_load(session, ids, user_id, page)
        return body.model_dump_json().encode()

    variant = page.variant if page is not None else "-"
    return Slot(read.key(ids, user_id), variant), load
