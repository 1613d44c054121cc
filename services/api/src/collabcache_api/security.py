"""Bearer JWTs (HS256 with the configured secret): `sub` is the user id, `exp` is required."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt

from collabcache_shared.settings import AuthSettings

from .errors import Unauthorized

ALGORITHM = "HS256"


def issue_token(user_id: uuid.UUID, settings: AuthSettings, ttl: timedelta | None = None) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + (ttl or timedelta(seconds=settings.jwt_ttl_seconds)),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def user_id_from_token(token: str, settings: AuthSettings) -> uuid.UUID:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("Invalid token") from exc
    try:
        return uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise Unauthorized("Invalid token subject") from exc
