"""The metrics service's optional bearer token (README, "Security").

With `METRICS_TOKEN` set, every request asks for `Authorization: Bearer <token>` except the
probes and the dashboard's own files, which hold no data: `/health`, `/ready`, `/` and
`/static/...`. A new route is therefore closed unless it is added to `OPEN_PATHS`. Without the
token (unset or empty), everything is open. The token is compared in constant time and never
logged; the refusal says only that a token is missing or wrong.
"""

from __future__ import annotations

import hmac

from faststream.asgi.response import JSONResponse
from faststream.asgi.types import Receive, Scope, Send
from pydantic import SecretStr

OPEN_PATHS = frozenset({"/health", "/ready", "/"})
OPEN_PREFIX = "/static/"
MISSING = "this endpoint needs `Authorization: Bearer <METRICS_TOKEN>`"
WRONG = "the bearer token is not this service's METRICS_TOKEN"


def _credentials(scope: Scope) -> bytes | None:
    """The bearer credentials of the request's first Authorization header, if any."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            scheme, _, credentials = bytes(value).strip().partition(b" ")
            return credentials.strip() if scheme.lower() == b"bearer" else None
    return None


class BearerToken:
    def __init__(self, token: SecretStr | None) -> None:
        secret = token.get_secret_value() if token is not None else ""
        self._expected = secret.encode() if secret else None

    def __repr__(self) -> str:
        return f"BearerToken(required={self.required})"

    @property
    def required(self) -> bool:
        return self._expected is not None

    def opens(self, scope: Scope) -> bool:
        """Whether the request may go on: no token configured, an open path, or the token."""
        if self._expected is None or scope["type"] != "http":
            return True
        path = scope["path"]
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIX):
            return True
        credentials = _credentials(scope)
        return credentials is not None and hmac.compare_digest(credentials, self._expected)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """401 with a `WWW-Authenticate: Bearer` challenge (RFC 6750)."""
        sent = _credentials(scope) is not None
        challenge = 'Bearer error="invalid_token"' if sent else "Bearer"
        headers = {"WWW-Authenticate": challenge, "Cache-Control": "no-store"}
        await JSONResponse({"detail": WRONG if sent else MISSING}, 401, headers)(
            scope, receive, send
        )
