"""/api/me: the caller's own profile (never cached)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import CurrentUser
from ..errors import ERROR_RESPONSES
from .schemas import UserPublic

router = APIRouter(tags=["users"], responses=ERROR_RESPONSES)


@router.get("/api/me")
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)
