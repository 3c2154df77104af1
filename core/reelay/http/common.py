"""What every Reelay route shares: typed app keys, authentication, JSON in and out.

Route modules (:mod:`reelay.http.routes`, :mod:`reelay.http.openai`,
:mod:`reelay.http.openapi`) import from here; nothing here imports them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from ..engine import Dispatcher
from ..engine.poller import Poller
from ..errors import InvalidRequest, PayloadTooLarge, RequestTimeout
from ..models import Task, Token
from .wire import task_to_json

DISPATCHER = web.AppKey("reelay.dispatcher", Dispatcher)
POLLER = web.AppKey("reelay.poller", Poller)
PUBLIC_URL = web.AppKey("reelay.public_url", str)
OWNS_ALL_ROUTES = web.AppKey("reelay.owns_all_routes", bool)

#: Every Reelay route's name starts with this, so the middleware knows its own.
ROUTE_PREFIX = "reelay."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dispatcher_of(request: web.Request) -> Dispatcher:
    return request.app[DISPATCHER]


def authenticate(request: web.Request) -> Token:
    token = dispatcher_of(request).authenticate(request.headers.get("Authorization"))
    structlog.contextvars.bind_contextvars(token=token.name)
    return token


def content_url(request: web.Request, task: Task) -> str:
    base = request.app.get(PUBLIC_URL)
    if base is None:
        base = f"{request.scheme}://{request.host}"
    return f"{base}/v1/videos/{task.id}/content"


def task_response(request: web.Request, task: Task, status: int = 200) -> web.Response:
    body = task_to_json(task, content_url(request, task))
    headers = poll_after_header(request, task)
    return json_response(body, status=status, headers=headers)


def poll_after_header(request: web.Request, task: Task) -> dict[str, str]:
    if task.is_terminal:
        return {}
    dispatcher = dispatcher_of(request)
    wait = max(task.next_poll_at - dispatcher.clock(), dispatcher.config.poller.min_interval)
    return {"openai-poll-after-ms": str(int(wait * 1000))}


def json_response(value: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer. orjson, not the stdlib: every answer pays for it (bench/RESULTS.md)."""
    return web.Response(body=orjson.dumps(value), status=status, headers=headers, content_type="application/json")


async def read_json(request: web.Request) -> Any:
    limit = request.app[DISPATCHER].config.server.max_body_mb * 1024 * 1024
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge("request body too large (limit: server.max_body_mb)")
    try:
        # A body that came with the headers (most JSON bodies) needs no timer armed.
        async with contextlib.nullcontext() if request.content.is_eof() else body_deadline(request):
            raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge("request body too large (limit: server.max_body_mb)") from None
    if not raw:
        raise InvalidRequest("the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # also invalid UTF-8 and lone surrogates
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            raise InvalidRequest(
                f"this route takes a JSON body (Content-Type: application/json), not {request.content_type}"
            ) from None
        raise InvalidRequest("the request body is not valid JSON") from None


async def multipart_parts(request: web.Request) -> AsyncIterator[tuple[BodyPartReader, bytes]]:
    """Each part of a multipart body with its decoded bytes, the whole within ``server.max_body_mb``.

    :raises PayloadTooLarge: the parts add up to more than the limit.
    """
    limit = request.app[DISPATCHER].config.server.max_body_mb * 1024 * 1024
    reader = await request.multipart()
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue  # a nested multipart: not a form OpenAI's SDK sends
        data = await part.read(decode=True)
        total += len(data)
        if total > limit:
            raise PayloadTooLarge("request body too large (limit: server.max_body_mb)")
        yield part, data


@contextlib.asynccontextmanager
async def multipart_body(request: web.Request) -> AsyncIterator[None]:
    """Read a multipart body within ``server.body_timeout``; a malformed one (no
    boundary, a missing or truncated part) is the caller's 400, not a 500.

    :raises InvalidRequest: the body is not the multipart it says it is.
    :raises RequestTimeout: when the body did not all arrive in time.
    """
    async with body_deadline(request):
        try:
            yield
        except BadHttpMessage:  # aiohttp's reader, on a part's header it cannot parse
            raise InvalidRequest("the multipart body is malformed (a part's header is invalid)") from None
        # What aiohttp's multipart reader raises otherwise (RuntimeError: an unknown Content-Transfer-Encoding).
        except (ValueError, AssertionError, RuntimeError) as error:
            # aiohttp's reason quotes raw bytes (b'--...'): say it in words.
            reason = str(error).split(" b'", 1)[0].split(' b"', 1)[0].rstrip(": ")
            raise InvalidRequest(f"the multipart body is malformed ({reason or 'unreadable'})") from None


@contextlib.asynccontextmanager
async def body_deadline(request: web.Request) -> AsyncIterator[None]:
    """Bound reading the request's body by ``server.body_timeout`` (aiohttp has no such limit).

    :raises RequestTimeout: when the body did not all arrive in time.
    """
    seconds = request.app[DISPATCHER].config.server.body_timeout
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {seconds:g} seconds") from None
