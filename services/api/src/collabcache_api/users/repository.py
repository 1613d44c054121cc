"""Queries on users."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..errors import NotFound
from ..models import User


async def require_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    """A user named in a request body; unknown ids are a clear 404."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


async def user_exists(session: AsyncSession, user_id: uuid.UUID) -> bool:
    found = await session.scalar(select(col(User.id)).where(col(User.id) == user_id))
    return found is not None


async def existing_users(session: AsyncSession, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` that exist, by one query."""
    found = await session.scalars(select(col(User.id)).where(col(User.id).in_(user_ids)))
    return set(found)


async def by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.scalars(select(User).where(func.lower(User.email) == email.lower()))
    return result.first()
