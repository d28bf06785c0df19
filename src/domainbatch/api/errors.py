"""The one place errors become HTTP responses: every error is JSON ``{"code", "message"}`` with
the error's stable code, and its status comes from this table (first match along the class's
MRO, so a new subclass inherits its parent's status)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from domainbatch.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DomainbatchError,
    ForbiddenError,
    InputError,
    LimitExceededError,
    NotFoundError,
    ProcessorNotFoundError,
    StorageError,
    UnsupportedMediaError,
)

log = logging.getLogger("domainbatch.api")

STATUS: dict[type[DomainbatchError], int] = {
    AuthenticationError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    LimitExceededError: 413,
    UnsupportedMediaError: 415,
    InputError: 422,
    ProcessorNotFoundError: 422,
    StorageError: 503,
    ConfigurationError: 500,
    DomainbatchError: 500,
}

# Framework-level statuses (unknown route, wrong method) keep their status with our body.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 406: "not_acceptable"}


class ErrorBody(BaseModel):
    code: str
    message: str


def status_for(exc: DomainbatchError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    extra = dict(headers or {})
    if status == 401:
        extra["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=extra)


def for_error(exc: DomainbatchError) -> JSONResponse:
    return error_response(status_for(exc), exc.code, exc.message)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


def _allowed(request: Request) -> str:
    """Every method of every route on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    async def domainbatch_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainbatchError)
        if status_for(exc) >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return for_error(exc)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "validation_error", _validation_message(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request)
        return error_response(exc.status_code, code, str(exc.detail), headers)

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal", "internal server error")

    app.add_exception_handler(DomainbatchError, domainbatch_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def documented(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` for the error statuses a route can return."""
    return {status: {"model": ErrorBody, "description": "Error"} for status in statuses}
