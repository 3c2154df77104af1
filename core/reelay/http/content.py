"""Serving a finished video: the kept copy from disk, or relayed from the vendor.

A kept file goes out with ``sendfile(2)`` and ``Range``; a result that was not
kept is relayed from the vendor as it arrives, never held whole in memory.
"""

from __future__ import annotations

import os

import aiohttp
from aiohttp import web

from ..engine.keeping import open_upstream
from ..errors import ReelayError
from ..models import ContentSource
from .ranges import parse_range

# ---------------------------------------------------------------- relaying


async def proxy_content(request: web.Request, source: ContentSource, http: aiohttp.ClientSession) -> web.StreamResponse:
    """Stream an upstream body to the caller, forwarding ``Range``."""
    method = "HEAD" if request.method == "HEAD" else "GET"
    wanted = request.headers.get("Range")
    upstream = await open_upstream(http, source, method=method, range_header=wanted)
    try:
        return await _relay(request, upstream, source, wanted)
    finally:
        upstream.release()


async def _relay(
    request: web.Request, upstream: aiohttp.ClientResponse, source: ContentSource, wanted: str | None
) -> web.StreamResponse:
    if upstream.status == 416:
        raise web.HTTPRequestRangeNotSatisfiable()
    if upstream.status >= 400:
        raise ReelayError(
            f"the vendor answered {upstream.status} for the content", code="upstream_content_unavailable", status=502
        )
    content_type = source.mime_type or upstream.headers.get("Content-Type") or "application/octet-stream"
    response = web.StreamResponse(status=upstream.status if upstream.status == 206 else 200)
    response.content_type = content_type.split(";")[0]
    response.headers["Accept-Ranges"] = "bytes"
    length = upstream.headers.get("Content-Length")
    skip, remaining = 0, None
    if upstream.status == 206 and "Content-Range" in upstream.headers:
        response.headers["Content-Range"] = upstream.headers["Content-Range"]
    elif wanted and length is not None and upstream.status == 200:
        # The vendor ignored Range: serve the slice ourselves.
        span = parse_range(wanted, int(length))
        if span is not None:
            skip, end = span
            remaining = end - skip + 1
            response.set_status(206)
            response.headers["Content-Range"] = f"bytes {skip}-{end}/{length}"
            length = str(remaining)
    if length is not None:
        response.content_length = int(length)
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    async for chunk in upstream.content.iter_any():  # as received: no joining into larger chunks
        if skip:
            if len(chunk) <= skip:
                skip -= len(chunk)
                continue
            chunk, skip = chunk[skip:], 0
        if remaining is not None:
            chunk = chunk[:remaining]
            remaining -= len(chunk)
        await response.write(chunk)
        if remaining == 0:
            break
    await response.write_eof()
    return response


async def kept_response(request: web.Request, path: str, mime_type: str) -> web.FileResponse:
    """Serve a kept file (``sendfile(2)``, ``Range``, ``If-Range``, ``HEAD``).

    A range outside the file is refused here, so the caller gets the JSON
    error every other route gives; a form we do not serve (several ranges)
    gets the whole file, as from the relay.
    """
    response = web.FileResponse(path, headers={"Content-Type": mime_type, "Accept-Ranges": "bytes"})
    wanted = request.headers.get("Range")
    if wanted and parse_range(wanted, os.stat(path).st_size) is None:
        whole = request.clone(headers={k: v for k, v in request.headers.items() if k.lower() != "range"})
        await response.prepare(whole)
    return response
