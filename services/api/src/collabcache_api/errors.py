"""Domain errors and their JSON answers: every failure is a 4xx with a readable `detail`."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.routing import Match

from collabcache_shared.cache.errors import FenceExpired, FenceUnavailable

log = logging.getLogger(__name__)


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """Also the answer for what the caller may not see, so that existence does not leak."""

    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Unauthorized(DomainError):
    status_code = 401


class BadRequest(DomainError):
    status_code = 400


class Unprocessable(DomainError):
    status_code = 422


UNKNOWN_USER = "Unknown user"


class ErrorBody(BaseModel):
    """The body of every error the API answers itself."""

    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """A request that does not match the schema: one entry per offending field."""

    detail: list[FieldError]


_ERROR_DESCRIPTIONS = {
    400: "Bad request, such as a cursor this API did not issue",
    401: "Missing, invalid or expired bearer token, or an unknown user",
    403: "The caller may see the resource but not do this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    422: "The request does not match the schema, or breaks a rule on its values",
    503: "The database (or, for a write, the cache) is unavailable; retry after `Retry-After`",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error codes a route can answer (routers add 401 and 503).

    A 422 from request validation lists field errors; one from a rule has a message: either.
    """
    return {
        code: {
            "model": ValidationErrorBody | ErrorBody if code == 422 else ErrorBody,
            "description": _ERROR_DESCRIPTIONS[code],
        }
        for code in codes
    }


# Every authenticated route: the token can be refused and the database can be down.
ERROR_RESPONSES = error_responses(401, 503)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


INPUT_EXCERPT_CHARS = 64


def _excerpt(value: Any) -> Any:
    """An offending input as the error shows it: as sent when short, else the first
    INPUT_EXCERPT_CHARS characters of its JSON and an ellipsis (README, "Security")."""
    text = json.dumps(value, ensure_ascii=False)
    return value if len(text) <= INPUT_EXCERPT_CHARS else text[:INPUT_EXCERPT_CHARS] + "…"


async def _invalid_request(_: Request, exc: Exception) -> Response:
    """FastAPI's 422 body, each offending input cut to an excerpt, ASCII-escaped: an input
    holding a lone surrogate (valid in JSON, not in UTF-8) must not make the 422 a 500."""
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors())
    for error in errors:
        if "input" in error:
            error["input"] = _excerpt(error["input"])
    body = json.dumps({"detail": errors}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


async def _unparsable_body(_: Request, __: Exception) -> JSONResponse:
    """FastAPI's own 400, for a body it cannot even decode (not UTF-8): as invalid as a body
    that is not JSON, so the same 422 (the app's own 400s are `BadRequest`, not this)."""
    detail = [{"type": "json_invalid", "loc": ["body"], "msg": "The body is not UTF-8 JSON"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _method_not_allowed(request: Request, _: Exception) -> JSONResponse:
    """A 405 whose `Allow` lists every method of the path (RFC 9110): Starlette lists only the
    first route that matched the path, and FastAPI makes one route per method."""
    allowed = [
        method
        for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(allowed)}
    )


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # A race the service's own checks could not see (two requests adding the same member).
    log.info("integrity error answered as 409: %s", type(exc).__name__)
    return JSONResponse({"detail": "Conflicts with the current state"}, status_code=409)


async def _invalid_value(_: Request, exc: Exception) -> JSONResponse:
    # A value PostgreSQL refuses (out of range, wrong encoding) that validation let through.
    log.info("data error answered as 422: %s", type(exc).__name__)
    return JSONResponse({"detail": "A value is out of range or malformed"}, status_code=422)


async def _database_error(request: Request, exc: Exception) -> Response:
    """503 for a database that cannot be reached; anything else is a bug, and stays a 500."""
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return await _database_unavailable(request, exc)
    raise exc


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return _unavailable("The database is unavailable, try again shortly")


async def _write_not_fenced(_: Request, exc: Exception) -> JSONResponse:
    # README, "The fenced cache protocol": a write that cannot fence the cache changes nothing.
    log.warning("write refused, the cache could not be fenced: %s", type(exc).__name__)
    return _unavailable(
        "The cache is unavailable for writes; nothing was changed, try again shortly"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(400, _unparsable_body)
    app.add_exception_handler(405, _method_not_allowed)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _invalid_value)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(ConnectionError, _database_unavailable)
    app.add_exception_handler(TimeoutError, _database_unavailable)
    # Every pooled connection busy for the whole pool timeout: overloaded, not broken.
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(FenceUnavailable, _write_not_fenced)
    app.add_exception_handler(FenceExpired, _write_not_fenced)
