"""The one error middleware: every error on Reelay's routes becomes the JSON error body."""

from __future__ import annotations

import itertools
import secrets

import structlog
from aiohttp import web

from ..errors import InvalidRequest, NotFound, PayloadTooLarge, ReelayError
from .common import OWNS_ALL_ROUTES, ROUTE_PREFIX, Handler, json_response
from .streaming import break_stream, started_stream

log = structlog.get_logger("reelay.http")

# Request ids only need to be unique, not secret: a per-process random
# prefix and a counter cost nothing, unlike a call into the system's RNG.
_REQUEST_ID_PREFIX = "req_" + secrets.token_hex(4)
_request_ids = (f"{_REQUEST_ID_PREFIX}{n:x}" for n in itertools.count(1))


def _is_ours(request: web.Request) -> bool:
    if request.app.get(OWNS_ALL_ROUTES):
        return True
    route = request.match_info.route
    name = getattr(route, "name", None) or ""
    return name.startswith(ROUTE_PREFIX)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turns every error on Reelay's routes into the JSON error body."""
    request_id = request.headers.get("X-Request-Id") or next(_request_ids)
    # Keep-alive connections serve requests one after another in one task:
    # overwrite what the previous request bound (the token is bound once known).
    structlog.contextvars.bind_contextvars(request_id=request_id)
    structlog.contextvars.unbind_contextvars("token")  # a request without a caller token logs none
    try:
        response = await _handle(request, handler)
    except ReelayError as error:
        response = _error_response(error)
    except web.HTTPException as error:
        if not _is_ours(request) or error.status < 400:
            raise
        response = _error_response(_from_http_exception(error))
        for name in ("Content-Range", "Allow"):  # 416 says how large the file is, 405 what to use
            if name in error.headers:
                response.headers[name] = error.headers[name]
    except Exception:
        if not _is_ours(request):
            raise
        log.exception("unhandled error", method=request.method, path=request.path)
        response = _error_response(ReelayError("internal error; the request id is " + request_id))
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
    return response


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler's response; an error after it started streaming breaks the connection instead."""
    try:
        return await handler(request)
    except Exception as error:
        started = started_stream(request)
        if started is None:
            raise
        # Its status and headers are out: no error response can follow them. Only
        # the error's type is logged: a client error's text may name a signed URL.
        break_stream(request, type(error).__name__)
        return started


def _from_http_exception(error: web.HTTPException) -> ReelayError:
    if error.status == 413:
        return PayloadTooLarge("request body too large (limit: server.max_body_mb)")
    if error.status == 404:
        return NotFound("no such route", code="route_not_found")
    if error.status == 405:
        return InvalidRequest("method not allowed on this route", code="method_not_allowed", status=405)
    if error.status == 416:
        failed = ReelayError("requested range not satisfiable", code="range_not_satisfiable", status=416)
        failed.type = "invalid_request_error"
        return failed
    failed = ReelayError(error.reason or "request failed", code="http_error", status=error.status)
    failed.type = "invalid_request_error" if error.status < 500 else "server_error"
    return failed


def _error_response(error: ReelayError) -> web.Response:
    # An error may carry headers the caller needs (a 429's Retry-After).
    return json_response(error.body(), status=error.status, headers=getattr(error, "headers", None) or None)
