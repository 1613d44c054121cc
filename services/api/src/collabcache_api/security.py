"""Bearer JWTs (HS256 with the configured secret): `sub` is the user id, `exp` is required.

Verified tokens are remembered (bounded, per token text and verifying settings): a client's
next request skips the signature check and the claim parsing, a large share of a cache hit's
CPU. The text carries its signature, so the same text verifies the same way; expiry is still
checked on every request, and a refused token is never remembered.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt

from collabcache_shared.settings import AuthSettings

from .errors import Unauthorized

ALGORITHM = "HS256"
REMEMBERED_TOKENS = 4096
_clock = time.time


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
    secret = settings.jwt_secret.get_secret_value()
    try:
        user_id, expires_at = _verified(token, secret, settings.jwt_audience, settings.jwt_issuer)
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("Invalid token") from exc
    if expires_at <= _clock():  # as PyJWT decides: expired from `exp` on, no leeway
        raise Unauthorized("Token has expired")
    return user_id


@lru_cache(maxsize=REMEMBERED_TOKENS)
def _verified(token: str, secret: str, audience: str, issuer: str) -> tuple[uuid.UUID, float]:
    """The subject and expiry of a valid token; raises (and remembers nothing) otherwise."""
    claims = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "sub"]},
    )
    try:
        return uuid.UUID(str(claims["sub"])), float(claims["exp"])
    except ValueError as exc:
        raise Unauthorized("Invalid token subject") from exc
