"""Filling one declared read ahead of any request (README, "Cache warming").

The entry is filled by the very path a read takes (`CacheManager.get_or_load`: lookup, lease,
load, fill only while the lease holds), with the read's declared loader, so a fill made here
can never store a value older than a completed write. Each load runs in a read session of its
own: a family served stale may refresh in the background after `refill` has returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence

from collabcache_shared.cache.batch import Ending, fill_many
from collabcache_shared.cache.manager import Result
from collabcache_shared.cache.store import Slot

from ..bootstrap import Container
from ..errors import NotFound, Unauthorized
from ..pagination import PageRequest, page_request
from .access_records import STANDING_OF, Standing, load_standings, user_loader, user_slot
from .reads import CachedRead

Loader = Callable[[], Awaitable[bytes]]
# Awaited between a load and its fill (tests drive a write into that window).
AfterLoad = Callable[[], Awaitable[None]]


def default_page(container: Container) -> PageRequest:
    """The page a request without `?limit=` or `?cursor=` asks for (the one most read)."""
    settings = container.settings
    return page_request(
        None, None, default_size=settings.default_page_size, max_size=settings.max_page_size
    )


async def refill(
    container: Container,
    read: CachedRead,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    after_load: AfterLoad | None = None,
) -> Result | None:
    """Fill `read`'s entry for (`ids`, `user_id`, the default page). Its outcome is HIT when
    it was fresh already, MISS when loaded (`fill` says whether it was stored, or refused by a
    write's fence or a lost lease); None when the loader refuses (404, 401: nothing is
    stored) or the cache is off."""
    standing = read.standing(ids)
    if read.is_standing:  # the standing record itself is the entry
        assert standing is not None
        return await refill_standing(container, standing, user_id, after_load)
    page = default_page(container) if read.paginated else None
    read_load = read.load
    assert read_load is not None

    async def load() -> bytes:
        async with container.read_sessions() as session:
            body = await read_load(session, ids, user_id, page)
        return body.model_dump_json().encode()

    variant = page.variant if page is not None else "-"
    return await _fill(container, Slot(read.key(ids, user_id), variant), load, after_load)


async def refill_standing(
    container: Container,
    standing: Standing,
    user_id: uuid.UUID,
    after_load: AfterLoad | None = None,
) -> Result | None:
    """Fill the user's standing on one resource (a field of USER_PERMISSIONS)."""

    async def load() -> bytes:
        async with container.read_sessions() as session:
            return await standing.loader(session, user_id)()

    return await _fill(container, standing.slot(user_id), load, after_load)


async def refill_standings(
    container: Container,
    user_id: uuid.UUID,
    kind: str,
    resource_ids: Sequence[uuid.UUID],
    after_load: AfterLoad | None = None,
) -> list[Ending]:
    """Fill the user's standings on many resources of one kind ("org", "team", "study") in
    one batch of the same protocol (`batch.fill_many`): one query loads those leased."""
    cache = container.cache
    if cache is None:
        return [Ending.UNAVAILABLE] * len(resource_ids)
    resource_of = {STANDING_OF[kind](rid).slot(user_id): rid for rid in resource_ids}

    async def load(leased: Sequence[Slot]) -> dict[Slot, bytes]:
        async with container.read_sessions() as session:
            ids = [resource_of[slot] for slot in leased]
            bodies = await load_standings(session, user_id, kind, ids)
        return {slot: bodies[resource_of[slot]] for slot in leased if resource_of[slot] in bodies}

    return await fill_many(cache, list(resource_of), load, after_load)


async def refill_user(container: Container, user_id: uuid.UUID) -> Result | None:
    """Fill the USER_PERMISSIONS `user` field (that the user exists)."""

    async def load() -> bytes:
        async with container.read_sessions() as session:
            return await user_loader(session, user_id)()

    return await _fill(container, user_slot(user_id), load, None)


async def _fill(
    container: Container, slot: Slot, load: Loader, after_load: AfterLoad | None
) -> Result | None:
    cache = container.cache
    if cache is None:
        return None

    async def loaded() -> bytes:
        body = await load()
        if after_load is not None:
            await after_load()
        return body

    try:
        return await cache.get_or_load(slot, loaded)
    except (NotFound, Unauthorized):
        return None
