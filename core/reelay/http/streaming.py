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

import structlog
from aiohttp import web

log = structlog.get_logger("reelay.http")

_STARTED = "reelay.started_stream"


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
