"""`Annotated` dependency aliases: what an endpoint may ask for."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from collabcache_shared.settings import ApiSettings

from .bootstrap import Container
from .errors import UNKNOWN_USER, Forbidden, Unauthorized
from .models import User
from .pagination import PageRequest, page_request
from .security import user_id_from_token
from .unit_of_work import request_transaction
from .users.repository import user_exists

# Every dependency here is `async def` though none awaits: FastAPI runs a plain `def` dependency
# in the thread pool, a hand-off per dependency per request that cost a cached GET 20-35% of its
# CPU (bench/ceiling.py, py-spy). None of them blocks.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="A JWT from `make token EMAIL=...`")


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_settings(container: ContainerDep) -> ApiSettings:
    return container.settings


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


async def get_session(container: ContainerDep, request: Request) -> AsyncIterator[AsyncSession]:
    """A read's session (autocommit: no transaction to commit, no cache to fence); a write's
    transaction, whose commit and the cache protocol around it are
    `unit_of_work.UnitOfWork.commit` (ARCHITECTURE.md, "The write path")."""
    if request.method in SAFE_METHODS:
        async with container.read_sessions() as session:
            yield session
        return
    traceparent = request.headers.get("traceparent")
    async with request_transaction(container, writes=True, traceparent=traceparent) as session:
        yield session


# scope="function": the transaction commits when the handler returns, before the response is
# sent, so a client that sees a write's response can read it back.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_claimed_user_id(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> uuid.UUID:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Not authenticated: send 'Authorization: Bearer <token>'")
    return user_id_from_token(credentials.credentials, settings)


# The user a valid token names, not yet known to exist: only for the cached GETs, whose
# `CachedReads` checks it in the cache in the same round trip as the page (README, "Security").
ClaimedUserId = Annotated[uuid.UUID, Depends(get_claimed_user_id)]


async def get_current_user_id(user_id: ClaimedUserId, session: SessionDep) -> uuid.UUID:
    if not await user_exists(session, user_id):
        raise Unauthorized(UNKNOWN_USER)
    return user_id


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def get_current_user(user_id: ClaimedUserId, session: SessionDep) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise Unauthorized(UNKNOWN_USER)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_platform_admin(user: CurrentUser) -> User:
    if not user.is_platform_admin:
        raise Forbidden("Platform administrators only")
    return user


PlatformAdmin = Annotated[User, Depends(get_platform_admin)]


async def get_page_request(
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, le=200, description="Page size")] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="Opaque cursor from `next_cursor`")
    ] = None,
) -> PageRequest:
    return page_request(
        limit, cursor, default_size=settings.default_page_size, max_size=settings.max_page_size
    )


PageDep = Annotated[PageRequest, Depends(get_page_request)]
