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
from .access_records import (
    STANDING_OF,
    Standing,
    load_standings,
    load_user_fields,
    user_slot,
)
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
    load = own_session_loader(container, read, ids, user_id, page)
    variant = page.variant if page is not None else "-"
    return await _fill(container, Slot(read.key(ids, user_id), variant), load, after_load)


def own_session_loader(
    container: Container,
    read: CachedRead,
    ids: Mapping[str, uuid.UUID],
    user_id: uuid.UUID,
    page: PageRequest | None = None,
) -> Loader:
    """`read`'s body loaded in a read session of its own: it may run after the request that
    asked for it has ended (a refill, the refresh of an entry served stale)."""
    read_load = read.load
    assert read_load is not None

    async def load() -> bytes:
        async with container.read_sessions() as session:
            body = await read_load(session, ids, user_id, page)
        return body.model_dump_json().encode()

    return load


# Pages leased at once by `refill_reads`: a reader of one waits for at most this many loads.
LEASE_GROUP = 4


async def refill_reads(
    container: Container,
    read: CachedRead,
    targets: Sequence[tuple[Mapping[str, uuid.UUID], uuid.UUID]],
    after_load: AfterLoad | None = None,
) -> list[Ending]:
    """Fill `read`'s entries (default page) for many (`ids`, `user_id`), loaded one by one in
    one read session, LEASE_GROUP at a time by the same protocol (`batch.fill_many`: one
    lookup, one round trip of leases, the loads, one round trip of fills). A target the
    loader refuses (404, 401) is NOT_VISIBLE; the same entry twice is filled once (the first)."""
    cache = container.cache
    if cache is None:
        return [Ending.UNAVAILABLE] * len(targets)
    assert not read.is_standing and read.load is not None
    read_load = read.load
    page = default_page(container) if read.paginated else None
    variant = page.variant if page is not None else "-"
    slots = [Slot(read.key(ids, user_id), variant) for ids, user_id in targets]
    target_of = dict(zip(reversed(slots), reversed(targets), strict=True))  # the first wins
    unique = list(dict.fromkeys(slots))
    endings: dict[Slot, Ending] = {}
    async with container.read_sessions() as session:

        async def load(leased: Sequence[Slot]) -> dict[Slot, bytes]:
            bodies: dict[Slot, bytes] = {}
            for slot in leased:
                ids, user_id = target_of[slot]
                try:
                    body = await read_load(session, ids, user_id, page)
                except (NotFound, Unauthorized):
                    continue
                bodies[slot] = body.model_dump_json().encode()
            return bodies

        for start in range(0, len(unique), LEASE_GROUP):
            group = unique[start : start + LEASE_GROUP]
            ended = await fill_many(cache, group, load, after_load)
            endings.update(zip(group, ended, strict=True))
    return [endings[slot] for slot in slots]


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
    kind: str,
    standings: Sequence[tuple[uuid.UUID, uuid.UUID]],
    after_load: AfterLoad | None = None,
) -> list[Ending]:
    """Fill the standings (user, resource) on resources of one kind ("org", "team", "study"),
    of one user or many, in one batch of the same protocol (`batch.fill_many`): one query
    loads those leased. The same standing twice is filled once."""
    cache = container.cache
    if cache is None:
        return [Ending.UNAVAILABLE] * len(standings)
    standing_of = {STANDING_OF[kind](rid).slot(uid): (uid, rid) for uid, rid in standings}

    async def load(leased: Sequence[Slot]) -> dict[Slot, bytes]:
        async with container.read_sessions() as session:
            records = await load_standings(session, kind, [standing_of[slot] for slot in leased])
        return {slot: records[standing_of[slot]] for slot in leased if standing_of[slot] in records}

    slots = list(standing_of)
    endings = dict(zip(slots, await fill_many(cache, slots, load, after_load), strict=True))
    return [endings[STANDING_OF[kind](rid).slot(uid)] for uid, rid in standings]


async def refill_users(
    container: Container, user_ids: Sequence[uuid.UUID], after_load: AfterLoad | None = None
) -> list[Ending]:
    """Fill the USER_PERMISSIONS `user` field of many users in one batch (`batch.fill_many`):
    one query finds those leased that exist; a user who does not is NOT_VISIBLE."""
    cache = container.cache
    if cache is None:
        return [Ending.UNAVAILABLE] * len(user_ids)
    user_of = {user_slot(user_id): user_id for user_id in user_ids}

    async def load(leased: Sequence[Slot]) -> dict[Slot, bytes]:
        async with container.read_sessions() as session:
            fields = await load_user_fields(session, [user_of[slot] for slot in leased])
        return {slot: fields[user_of[slot]] for slot in leased if user_of[slot] in fields}

    endings = dict(
        zip(user_of, await fill_many(cache, list(user_of), load, after_load), strict=True)
    )
    return [endings[user_slot(user_id)] for user_id in user_ids]


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
