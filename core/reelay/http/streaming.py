"""Responses that are sent while they are produced: how they start, and how they break.

Once a response's status line and headers are on the wire, an error can no
longer become an error response: HTTP has no way to take back a ``200``. A
failure after that point ends the response the only way HTTP allows: the
connection is closed before the declared ``Content-Length`` (or the last
chunk), so the caller sees a short body, never a second response inside the
first one's body. Every route that streams (the content relay, kept files,
any future event stream) starts its response with :func:`start_stream`; the
error middleware asks :func:`started_stream` before building an error
response and calls :func:`break_stream` instead when one was started.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import structlog
from aiohttp import web

log = structlog.get_logger("reelay.http")

_STARTED = "reelay.started_stream"
#: The handlers of the streams that last as long as their subject (see :func:`ended_at_shutdown`).
OPEN_STREAMS = web.AppKey("reelay.open_streams", set)


async def start_stream(
    request: web.Request, response: web.StreamResponse, *, prepare_as: web.BaseRequest | None = None
) -> None:
    """Send ``response``'s status and headers: from here on a failure breaks the connection.

    :param prepare_as: a clone of ``request`` to prepare with (a kept file
        served for a rewritten ``Range``).
    """
    request[_STARTED] = response
    await response.prepare(prepare_as or request)


def started_stream(request: web.Request) -> web.StreamResponse | None:
    """The response :func:`start_stream` started for ``request`` once its headers went out, else None."""
    response = request.get(_STARTED)
    return response if response is not None and response.prepared else None


def break_stream(request: web.Request, reason: str) -> None:
    """End a started response early by closing the connection; ``reason`` is logged."""
    log.warning("response broken off", method=request.method, path=request.path, reason=reason)
    transport = request.transport
    if transport is not None:
        transport.close()  # what was written still goes out, then the caller sees the short body


@contextlib.contextmanager
def ended_at_shutdown(request: web.Request) -> Iterator[None]:
    """Serve a response that lasts as long as its subject (an event stream follows a task
    for minutes): the gateway's shutdown ends it (:func:`end_open_streams`) rather than
    waiting for the task, so SIGINT and SIGTERM stop the gateway at once."""
    handler = asyncio.current_task()
    streams: set[asyncio.Task[object]] = request.app[OPEN_STREAMS]
    if handler is not None:
        streams.add(handler)
    try:
        yield
    finally:
        streams.discard(handler)


async def end_open_streams(app: web.Application) -> None:
    """An ``on_shutdown`` handler: cancel the handlers of the open streams (their callers
    see the stream end, and an SSE client resumes elsewhere with ``Last-Event-ID``)."""
    for handler in list(app[OPEN_STREAMS]):
        handler.cancel()
