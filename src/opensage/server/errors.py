"""One error shape for every failure: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from opensage.errors import InternalError, InvalidInput, OpenSageError, Unauthorized
from opensage.server.deps import authorize

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
}


def error_response(error: OpenSageError) -> JSONResponse:
    """The JSON response for a domain error (a 401 also says which scheme to use)."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    return JSONResponse(error.to_dict(), status_code=error.status, headers=headers)


def _field_of(location: Any) -> str | None:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


async def _refusal(request: Request) -> JSONResponse | None:
    """The 401/403 for a caller whom the route's access check has not seen yet, else None.

    FastAPI parses a JSON body before it runs the route's dependencies, so without this a
    malformed body would be answered 422 (or 400) to a caller without a valid key: the
    access check comes first, as it does for every other request.
    """
    if request.scope.get("route") is None or "principal" in request.scope.get("state", {}):
        return None
    try:
        await run_in_threadpool(authorize, request)
    except OpenSageError as exc:
        return error_response(exc)
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception through the one error shape."""

    @app.exception_handler(OpenSageError)
    async def _domain(_: Request, exc: OpenSageError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = await _refusal(request)
        if refused is not None:
            return refused
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field_of(first.get("loc", ()))
        message = str(first.get("msg", "invalid request"))
        if field:
            message = f"{field}: {message}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem(s))"
        return error_response(InvalidInput(message, field=field))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body FastAPI could not parse: access check first
            refused = await _refusal(request)
            if refused is not None:
                return refused
        code = _HTTP_CODES.get(exc.status_code, "error")
        body = {"error": {"code": code, "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(InternalError("internal server error; see the server log"))
